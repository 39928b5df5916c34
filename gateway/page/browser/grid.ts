/// <reference lib="dom" />
/**
 * The gateway table. Each gateway's row is built once and then only its changed cells are
 * touched, and only while it is on screen; filtering and sorting move existing rows. That keeps
 * 500 gateways with a status every few seconds cheap: no row is rebuilt, no markup is parsed.
 */
import type { ViewEntry } from '../view-store.js';
import { el, setClass, setText, setTitle } from './dom.js';
import { ago, count, duration, rate } from './format.js';
import { comparator, matches, needsAttention, oldestUnsentS, OLDEST_ATTENTION_S, rejectedTotal, secondsSince, sourcesUp, type Filter, type SortDir, type SortKey } from './view.js';

class Row {
  readonly tr: HTMLTableRowElement;
  private readonly c: Record<'state' | 'id' | 'seen' | 'uplink' | 'depth' | 'oldest' | 'ingest' | 'send' | 'sources' | 'rejected' | 'host' | 'version', HTMLElement>;
  private readonly badge: HTMLSpanElement;

  constructor(readonly id: string, onClick: (id: string) => void) {
    this.badge = el('span', { class: 'badge' });
    const td = (cls = '') => el('td', { class: cls });
    this.c = {
      state: td(), id: td('id'), seen: td('muted'), uplink: td(), depth: td('num'), oldest: td('num'), ingest: td('num'),
      send: td('num'), sources: td(), rejected: td('num'), host: td('muted'), version: td('muted'),
    };
    this.c.state.append(this.badge);
    this.tr = el('tr', {}, ...Object.values(this.c));
    this.tr.dataset.gateway = id;
    this.tr.addEventListener('click', () => onClick(id));
  }

  update(e: ViewEntry, now: number): void {
    const { c } = this;
    this.tr.dataset.state = e.state;
    setClass(this.badge, `badge s-${e.state}`);
    setText(this.badge, e.state);
    setText(c.id, e.gateway);
    setTitle(c.id, e.gateway);
    setText(c.seen, ago(e.lastSeenTs, now));
    if (e.uplink.connected) {
      setText(c.uplink, 'up');
      setClass(c.uplink, 'ok');
    } else {
      const down = secondsSince(e, e.uplink.sinceTs, now);
      setText(c.uplink, down === null ? 'down' : `down ${duration(down)}`);
      setClass(c.uplink, 'bad');
    }
    setTitle(c.uplink, e.uplink.lastError ?? '');
    setText(c.depth, count(e.buffer.depth));
    const oldest = oldestUnsentS(e, now);
    setText(c.oldest, oldest === null ? '—' : duration(oldest));
    setClass(c.oldest, oldest !== null && oldest > OLDEST_ATTENTION_S ? 'num warn' : 'num');
    setText(c.ingest, rate(e.rates?.ingestPerS));
    setText(c.send, rate(e.rates?.sendPerS));
    const s = sourcesUp(e);
    setText(c.sources, s.notUp.length ? `${s.up}/${s.total} up · ${s.notUp.join(', ')}` : `${s.total} up`);
    setClass(c.sources, s.notUp.length ? 'warn' : '');
    setTitle(c.sources, e.sources.map((x) => `${x.id}: ${x.state}`).join('\n'));
    const rejected = rejectedTotal(e);
    setText(c.rejected, count(rejected));
    setClass(c.rejected, rejected > 0 ? 'num warn' : 'num muted');
    const temp = e.host?.cpuTempC;
    setText(c.host, [e.host?.hostname, temp === null || temp === undefined ? undefined : `${temp.toFixed(0)} °C`].filter(Boolean).join(' · '));
    setText(c.version, e.version);
  }

  /** The parts that age while nothing arrives. */
  age(e: ViewEntry, now: number): void {
    setText(this.c.seen, ago(e.lastSeenTs, now));
    const oldest = oldestUnsentS(e, now);
    setText(this.c.oldest, oldest === null ? '—' : duration(oldest));
  }
}

export interface View {
  filter: Filter;
  search: string;
  sort: SortKey;
  dir: SortDir;
  selected: string | undefined;
}

export class Grid {
  private readonly rows = new Map<string, Row>();
  private readonly rowOf = new WeakMap<Element, Row>();
  private shown: Row[] = [];
  /**
   * Rows on or near the screen. Only these follow every status and every second of "12 s ago";
   * the others are marked out of date and catch up when they scroll into view, so the cost of
   * a tick does not grow with the size of the fleet.
   */
  private readonly onScreen = new Set<Row>();
  private readonly outOfDate = new Set<Row>();
  private readonly observer: IntersectionObserver;
  private entries = new Map<string, ViewEntry>();
  private now = 0;
  private selected: Row | undefined;

  constructor(private readonly tbody: HTMLTableSectionElement, private readonly onSelect: (id: string) => void) {
    this.observer = new IntersectionObserver((changes) => {
      for (const c of changes) {
        const row = this.rowOf.get(c.target);
        if (!row) continue;
        if (!c.isIntersecting) { this.onScreen.delete(row); continue; }
        this.onScreen.add(row);
        const e = this.entries.get(row.id);
        if (e && this.outOfDate.delete(row)) row.update(e, this.now);
        else if (e) row.age(e, this.now);
      }
    }, { rootMargin: '400px 0px' });
  }

  /** Bring rows in line with the entries (`changed`: ids whose status changed since last time). */
  render(entries: Map<string, ViewEntry>, changed: Iterable<string>, view: View, now: number): { shown: number; counts: Record<Filter, number> } {
    this.entries = entries;
    this.now = now;
    for (const [id, row] of this.rows) {
      if (entries.has(id)) continue;
      this.rows.delete(id);
      this.onScreen.delete(row);
      this.outOfDate.delete(row);
      this.observer.unobserve(row.tr);
      row.tr.remove();
    }
    for (const id of changed) {
      const e = entries.get(id);
      if (!e) continue;
      let row = this.rows.get(id);
      if (!row) {
        // A new row is filled at once: it has to show something wherever it lands.
        row = new Row(id, this.onSelect);
        this.rows.set(id, row);
        this.rowOf.set(row.tr, row);
        this.observer.observe(row.tr);
        row.update(e, now);
      } else if (this.onScreen.has(row)) {
        row.update(e, now);
      } else {
        this.outOfDate.add(row);
      }
    }
    const counts: Record<Filter, number> = { all: 0, online: 0, stale: 0, offline: 0, attention: 0 };
    const visible: ViewEntry[] = [];
    for (const e of entries.values()) {
      counts.all++;
      counts[e.state]++;
      if (needsAttention(e, now)) counts.attention++;
      if (matches(e, view.filter, view.search, now)) visible.push(e);
    }
    visible.sort(comparator(view.sort, view.dir, now));
    const next = visible.map((e) => this.rows.get(e.gateway)!);
    if (next.length !== this.shown.length || next.some((r, i) => r !== this.shown[i])) this.tbody.replaceChildren(...next.map((r) => r.tr));
    this.shown = next;
    for (const row of this.onScreen) {
      const e = entries.get(row.id);
      if (e) row.age(e, now);
    }
    const selected = view.selected === undefined ? undefined : this.rows.get(view.selected);
    if (selected !== this.selected) {
      this.selected?.tr.setAttribute('aria-selected', 'false');
      selected?.tr.setAttribute('aria-selected', 'true');
      this.selected = selected;
    }
    return { shown: next.length, counts };
  }
}
