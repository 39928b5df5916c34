/** One gateway in full: every status field, its sources, and charts of the last hour. */
import type { History, ViewEntry } from '../view-store.js';
import { TimeChart } from './charts.js';
import { el, setClass, setText } from './dom.js';
import { ago, bytes, count, duration, problemText, rate, reasons } from './format.js';
import { oldestUnsentS, secondsSince, uplinkWord } from './view.js';

type Source = ViewEntry['sources'][number];

/** A key/value card whose value cells are kept and updated in place. */
class Card {
  readonly root: HTMLElement;
  private readonly cells = new Map<string, HTMLElement>();

  constructor(title: string, keys: string[]) {
    const dl = el('dl', { class: 'kv' });
    for (const k of keys) {
      const dd = el('dd');
      this.cells.set(k, dd);
      dl.append(el('dt', { text: k }), dd);
    }
    this.root = el('div', { class: 'card' }, el('h3', { text: title }), dl);
  }

  set(key: string, text: string, cls = ''): void {
    const dd = this.cells.get(key)!;
    setText(dd, text);
    setClass(dd, cls);
  }
}

class SourceRow {
  readonly tr: HTMLTableRowElement;
  private readonly badge = el('span', { class: 'badge' });
  private readonly cells = {
    id: el('td', { class: 'id' }),
    driver: el('td', { class: 'muted' }),
    state: el('td'),
    last: el('td'),
    readings: el('td', { class: 'num' }),
    rate: el('td', { class: 'num' }),
    rejected: el('td', { class: 'num' }),
  };
  private readonly detail = el('div', { class: 'reasons' });
  private readonly rejected = el('span');
  private readonly why = el('div', { class: 'reasons' });

  constructor() {
    this.cells.state.append(this.badge, this.detail);
    this.cells.rejected.append(this.rejected, this.why);
    this.tr = el('tr', {}, ...Object.values(this.cells));
  }

  update(s: Source, e: ViewEntry, now: number): void {
    setText(this.cells.id, s.id);
    setText(this.cells.driver, s.driver);
    setClass(this.badge, `badge s-${s.state}`);
    setText(this.badge, s.state);
    setText(this.detail, s.detail ?? '');
    const since = secondsSince(e, s.lastReadingTs, now);
    setText(this.cells.last, since === null ? 'never' : `${duration(since)} ago`);
    setText(this.cells.readings, count(s.readings));
    setText(this.cells.rate, rate(s.ratePerS));
    setText(this.rejected, count(s.rejected));
    setText(this.why, reasons(s.rejectedByReason));
  }
}

export class Detail {
  private id: string | undefined;
  private historyTimer: number | undefined;
  private charts: TimeChart[] = [];
  private parts: ReturnType<Detail['build']> | undefined;
  private readonly sourceRows = new Map<string, SourceRow>();

  constructor(
    private readonly root: HTMLElement,
    private readonly onClose: () => void,
    private readonly closable: boolean,
  ) {}

  get current(): string | undefined {
    return this.id;
  }

  open(id: string): void {
    if (this.id === id) return;
    this.close();
    this.id = id;
    this.parts = this.build();
    this.root.hidden = false;
    void this.loadHistory();
    this.historyTimer = window.setInterval(() => void this.loadHistory(), 10_000);
  }

  close(): void {
    window.clearInterval(this.historyTimer);
    for (const c of this.charts) c.destroy();
    this.charts = [];
    this.sourceRows.clear();
    this.root.replaceChildren();
    this.root.hidden = true;
    this.id = undefined;
    this.parts = undefined;
  }

  update(e: ViewEntry | undefined, now: number): void {
    const p = this.parts;
    if (!p || !e) return;
    setText(p.title, e.gateway);
    setClass(p.badge, `badge s-${e.state}`);
    setText(p.badge, e.state);
    const clock = e.clockSynced === false ? 'clock NOT synchronised' : e.clockSynced ? 'clock synchronised' : '';
    setText(
      p.sub,
      [
        `version ${e.version}`,
        `up ${duration(e.uptimeS)}`,
        e.bootId ? `boot ${e.bootId.slice(0, 8)}` : '',
        clock,
        `last seen ${ago(e.lastSeenTs, now)}`,
      ]
        .filter(Boolean)
        .join(' · '),
    );
    setText(p.error, e.uplink.lastError ? `uplink: ${e.uplink.lastError}` : '');
    p.error.hidden = !e.uplink.lastError || e.uplink.connected;
    this.updateProblems(e, now);

    const oldest = oldestUnsentS(e, now);
    p.buffer.set('Readings', count(e.buffer.depth));
    p.buffer.set('Bytes', bytes(e.buffer.bytes));
    p.buffer.set(
      'Oldest unsent',
      oldest === null ? 'none' : duration(oldest),
      oldest !== null && oldest > 60 ? 'warn' : '',
    );
    const eta = e.buffer.drainEtaS;
    p.buffer.set(
      'Empty in',
      eta === undefined ? '—' : eta === null ? 'not draining' : eta === 0 ? 'nothing waiting' : duration(eta),
      eta === null && e.buffer.depth > 0 ? 'warn' : '',
    );
    p.buffer.set('Next seq', count(e.buffer.nextSeq));

    const since = secondsSince(e, e.uplink.sinceTs, now);
    p.uplink.set(
      'State',
      `${e.uplink.connected ? 'connected' : uplinkWord(e)}${since === null ? '' : ` ${duration(since)}`}`,
      e.uplink.connected ? 'ok' : 'bad',
    );
    const ack = secondsSince(e, e.uplink.lastAckTs, now);
    p.uplink.set('Last ack', ack === null ? 'never' : `${duration(ack)} ago`);
    const failed = secondsSince(e, e.uplink.lastErrorTs, now);
    p.uplink.set('Last error', failed === null ? 'none' : `${duration(failed)} ago`);
    p.uplink.set('Sent', count(e.uplink.sent));
    const dropped = Object.values(e.uplink.dropped ?? {}).reduce((n, x) => n + x, 0);
    p.uplink.set('Dropped', dropped ? `${count(dropped)} (${reasons(e.uplink.dropped)})` : '0', dropped ? 'warn' : '');

    p.rates.set('In /s', rate(e.rates?.ingestPerS));
    p.rates.set('Out /s', rate(e.rates?.sendPerS));
    p.rates.set('Rejected', count(e.sources.reduce((n, s) => n + s.rejected, 0)));

    const h = e.host;
    p.host.set('Hostname', h?.hostname ?? '—');
    p.host.set('Arch', h?.arch ?? '—');
    const diskLow = h?.diskFreeBytes != null && h.diskTotalBytes ? h.diskFreeBytes / h.diskTotalBytes < 0.1 : false;
    p.host.set(
      'Disk free',
      h?.diskFreeBytes == null ? '—' : `${bytes(h.diskFreeBytes)} / ${bytes(h.diskTotalBytes)}`,
      diskLow ? 'warn' : '',
    );
    p.host.set('Memory free', h?.memFreeBytes == null ? '—' : `${bytes(h.memFreeBytes)} / ${bytes(h.memTotalBytes)}`);
    p.host.set('Gateway RSS', bytes(h?.rssBytes));
    p.host.set(
      'CPU temp',
      h?.cpuTempC == null ? 'n/a' : `${h.cpuTempC.toFixed(1)} °C`,
      (h?.cpuTempC ?? 0) >= 75 ? 'warn' : '',
    );
    p.host.set('Load', h?.load?.map((l) => l.toFixed(2)).join(' ') ?? '—');

    this.updateSources(e, now);
  }

  /** What is wrong now, first and in words, each with how long it has lasted. */
  private updateProblems(e: ViewEntry, now: number): void {
    const list = this.parts!.problems;
    const problems = e.problems ?? [];
    const items = problems.map((pr) => {
      const since = secondsSince(e, pr.since, now);
      return el(
        'li',
        { text: problemText(pr) },
        el('span', { text: since === null ? '' : `for ${duration(since)} · ${pr.code}` }),
      );
    });
    list.replaceChildren(...items);
    list.hidden = problems.length === 0;
  }

  private updateSources(e: ViewEntry, now: number): void {
    const tbody = this.parts!.sources;
    const ids = e.sources.map((s) => s.id);
    if (ids.length !== this.sourceRows.size || ids.some((id) => !this.sourceRows.has(id))) {
      this.sourceRows.clear();
      for (const id of ids) this.sourceRows.set(id, new SourceRow());
      tbody.replaceChildren(...[...this.sourceRows.values()].map((r) => r.tr));
    }
    for (const s of e.sources) this.sourceRows.get(s.id)!.update(s, e, now);
  }

  private build() {
    const badge = el('span', { class: 'badge' });
    const title = el('h2');
    const close = el('button', {
      class: 'd-close',
      text: '×',
      title: 'Close (Esc)',
      attrs: { type: 'button', 'aria-label': 'Close' },
    });
    close.addEventListener('click', () => this.onClose());
    close.hidden = !this.closable;
    const sub = el('div', { class: 'd-sub' });
    const error = el('p', { class: 'error' });
    const problems = el('ul', { class: 'problems', attrs: { 'aria-label': 'Problems' } });
    const buffer = new Card('Buffer', ['Readings', 'Bytes', 'Oldest unsent', 'Empty in', 'Next seq']);
    const uplink = new Card('Uplink', ['State', 'Last ack', 'Last error', 'Sent', 'Dropped']);
    const rates = new Card('Last minute', ['In /s', 'Out /s', 'Rejected']);
    const host = new Card('Host', ['Hostname', 'Arch', 'Disk free', 'Memory free', 'Gateway RSS', 'CPU temp', 'Load']);
    const sources = el('tbody');
    const head = el(
      'tr',
      {},
      ...['Source', 'Driver', 'State', 'Last reading', 'Readings', 'In /s', 'Rejected'].map((t) =>
        el('th', { text: t }),
      ),
    );
    this.charts = [
      new TimeChart(
        'Buffered readings and age of the oldest unsent one',
        [
          { label: 'buffered', color: '#2f6fde', format: (v) => count(v) },
          { label: 'oldest unsent', color: '#c47f00', scale: 'y2', format: (v) => duration(v) },
        ],
        true,
      ),
      new TimeChart('Readings per second (1-minute average)', [
        { label: 'in', color: '#15925a', format: (v) => rate(v) },
        { label: 'out', color: '#8a4fd8', format: (v) => rate(v) },
      ]),
    ];
    this.root.replaceChildren(
      el('div', { class: 'd-head' }, badge, title, close),
      sub,
      problems,
      error,
      el('div', { class: 'cards' }, buffer.root, uplink.root, rates.root, host.root),
      el('div', { class: 'section-title', text: 'Sources' }),
      el('table', { class: 'sources' }, el('thead', {}, head), sources),
      el('div', { class: 'section-title', text: 'Last hour' }),
      ...this.charts.map((c) => c.root),
    );
    return { badge, title, sub, problems, error, buffer, uplink, rates, host, sources };
  }

  private async loadHistory(): Promise<void> {
    const id = this.id;
    if (id === undefined) return;
    const res = await fetch(`/api/history?gateway=${encodeURIComponent(id)}`).catch(() => undefined);
    if (!res?.ok || this.id !== id) return;
    const h = (await res.json()) as History;
    if (this.id !== id) return;
    this.charts[0]?.setData(h.ts, [h.depth, h.oldestAgeS]);
    this.charts[1]?.setData(h.ts, [h.ingestPerS, h.sendPerS]);
  }
}
