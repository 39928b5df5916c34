/**
 * The gateway table, one page of rows at a time. Only the rows of the page shown exist in the
 * DOM; each is built once and then only its changed cells are touched. Filtering and sorting
 * run over the entries (plain objects), so 10,000 gateways cost a sort, not 10,000 rows.
 */
import type { ViewEntry } from '../view-store.js';
import { el, setClass, setText, setTitle } from './dom.js';
import { ago, count, duration, problemText, rate } from './format.js';
import {
  comparator,
  type Filter,
  matches,
  needsAttention,
  OLDEST_ATTENTION_S,
  oldestUnsentS,
  rejectedTotal,
  type SortDir,
  type SortKey,
  secondsSince,
  sourcesUp,
  uplinkWord,
} from './view.js';

class Row {
  readonly tr: HTMLTableRowElement;
  /** One cell per column, named as the columns are sorted. */
  private readonly c: Record<SortKey, HTMLElement>;
  private readonly badge: HTMLSpanElement;

  constructor(
    readonly id: string,
    onClick: (id: string) => void,
  ) {
    this.badge = el('span', { class: 'badge' });
    const td = (cls = '') => el('td', { class: cls });
    this.c = {
      state: td(),
      id: td('id'),
      problems: td(),
      seen: td('muted'),
      uplink: td(),
      depth: td('num'),
      oldest: td('num'),
      ingest: td('num'),
      send: td('num'),
      sources: td(),
      rejected: td('num'),
      host: td('muted'),
      version: td('muted'),
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
    // Problems first, in words: the first one in the cell, all of them on hover.
    const problems = (e.problems ?? []).map(problemText);
    setText(
      c.problems,
      problems.length === 0 ? '' : problems.length === 1 ? problems[0]! : `${problems[0]} (+${problems.length - 1})`,
    );
    setClass(c.problems, problems.length ? 'bad' : '');
    setTitle(c.problems, problems.join('\n'));
    setText(c.seen, ago(e.lastSeenTs, now));
    if (e.uplink.connected) {
      setText(c.uplink, 'up');
      setClass(c.uplink, 'ok');
    } else {
      const down = secondsSince(e, e.uplink.sinceTs, now);
      setText(c.uplink, down === null ? uplinkWord(e) : `${uplinkWord(e)} ${duration(down)}`);
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
    setText(
      c.host,
      [e.host?.hostname, temp === null || temp === undefined ? undefined : `${temp.toFixed(0)} °C`]
        .filter(Boolean)
        .join(' · '),
    );
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
  /** 0-based page of the filtered, sorted gateways. */
  page: number;
}

/** Rows per page: a screenful or two, so the DOM stays small whatever the size of the fleet. */
export const PAGE_SIZE = 100;

export interface RenderResult {
  shown: number;
  counts: Record<Filter, number>;
  /** The page actually shown (clamped) and how many pages there are. */
  page: number;
  pages: number;
}

export class Grid {
  /** The rows of the page shown, by gateway id. */
  private rows = new Map<string, Row>();
  private shown: Row[] = [];
  private selected: Row | undefined;

  constructor(
    private readonly tbody: HTMLTableSectionElement,
    private readonly onSelect: (id: string) => void,
  ) {}

  /** Bring the page in line with the entries (`changed`: ids whose status changed since last time). */
  render(entries: Map<string, ViewEntry>, changed: Set<string>, view: View, now: number): RenderResult {
    const counts: Record<Filter, number> = { all: 0, online: 0, stale: 0, offline: 0, unknown: 0, attention: 0 };
    const visible: ViewEntry[] = [];
    for (const e of entries.values()) {
      counts.all++;
      counts[e.state]++;
      if (needsAttention(e, now)) counts.attention++;
      if (matches(e, view.filter, view.search, now)) visible.push(e);
    }
    visible.sort(comparator(view.sort, view.dir, now));
    const pages = Math.max(1, Math.ceil(visible.length / PAGE_SIZE));
    const page = Math.min(Math.max(0, view.page), pages - 1);
    const rows = new Map<string, Row>();
    const next = visible.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE).map((e) => {
      let row = this.rows.get(e.gateway);
      if (!row) {
        row = new Row(e.gateway, this.onSelect);
        row.update(e, now);
      } else if (changed.has(e.gateway)) {
        row.update(e, now);
      } else {
        row.age(e, now);
      }
      rows.set(e.gateway, row);
      return row;
    });
    this.rows = rows;
    if (next.length !== this.shown.length || next.some((r, i) => r !== this.shown[i]))
      this.tbody.replaceChildren(...next.map((r) => r.tr));
    this.shown = next;
    const selected = view.selected === undefined ? undefined : this.rows.get(view.selected);
    if (selected !== this.selected) {
      this.selected?.tr.setAttribute('aria-selected', 'false');
      selected?.tr.setAttribute('aria-selected', 'true');
      this.selected = selected;
    }
    return { shown: visible.length, counts, page, pages };
  }
}
