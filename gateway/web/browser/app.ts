/**
 * The status page: live over Server-Sent Events (/api/events), rendered at most once per frame.
 * The same page serves the fleet (every gateway of the status topic) and a single gateway's
 * local endpoint, where the table has one row and the detail is always open.
 */
import type { ViewEntry } from '../view-store.js';
import { Detail } from './detail.js';
import { byId, setText } from './dom.js';
import { Grid, PAGE_SIZE, type View } from './grid.js';
import { DEFAULT_DIR, type Filter, type SortKey } from './view.js';

interface Meta {
  caughtUp?: boolean;
  /** The fleet server's own Kafka: while it cannot read the topic, silence proves nothing. */
  kafka?: { connected: boolean; lastError: string | null };
  refusedRecords?: number;
  notKeptRecords?: number;
  maxGateways?: number;
  topic?: string;
  brokers?: string;
  rejectedRecords?: number;
  lastRejection?: string | null;
}

interface Message {
  serverNow: number;
  meta: Meta;
  entries: ViewEntry[];
  removed: string[];
}

const device = document.body.dataset.mode === 'device';
const entries = new Map<string, ViewEntry>();
const changed = new Set<string>();
/** Server clock minus ours: ages are computed on the server's clock. */
let skew = 0;
let meta: Meta = {};
const now = () => Date.now() + skew;
const view: View = { filter: 'all', search: '', sort: 'state', dir: 1, selected: undefined, page: 0 };

const grid = new Grid(byId<HTMLTableSectionElement>('rows'), (id) => select(id));
const detail = new Detail(byId('detail'), () => select(undefined), !device);

function select(id: string | undefined): void {
  view.selected = id;
  if (id === undefined) {
    detail.close();
    history.replaceState(null, '', location.pathname);
  } else {
    detail.open(id);
    if (!device) history.replaceState(null, '', `#gw=${encodeURIComponent(id)}`);
  }
  schedule();
}

let frame = 0;
function schedule(): void {
  if (!frame) frame = requestAnimationFrame(render);
}

function render(): void {
  frame = 0;
  const t = now();
  const { shown, counts, page, pages } = grid.render(entries, changed, view, t);
  changed.clear();
  view.page = page;
  for (const [k, v] of Object.entries(counts)) {
    const b = document.querySelector<HTMLElement>(`[data-count="${k}"]`);
    if (b) setText(b, String(v));
  }
  byId('chip-unknown').hidden = counts.unknown === 0;
  setText(
    byId('shown'),
    shown === entries.size ? `${entries.size} gateways` : `${shown} of ${entries.size} gateways shown`,
  );
  byId('pager').hidden = pages <= 1;
  setText(
    byId('page-of'),
    `page ${page + 1} of ${pages} (rows ${page * PAGE_SIZE + 1}–${Math.min(shown, (page + 1) * PAGE_SIZE)})`,
  );
  byId<HTMLButtonElement>('page-prev').disabled = page === 0;
  byId<HTMLButtonElement>('page-next').disabled = page >= pages - 1;
  byId('empty').hidden = entries.size > 0;
  renderBanner();
  if (view.selected !== undefined) detail.update(entries.get(view.selected), t);
  renderFoot();
}

/** The fleet server says so when it cannot read the status topic: the page is not live then. */
function renderBanner(): void {
  const k = meta.kafka;
  const blind = !device && k !== undefined && !k.connected;
  byId('banner').hidden = !blind;
  if (blind)
    setText(
      byId('banner'),
      `The fleet server cannot read the status topic${k.lastError ? ` (${k.lastError})` : ''}. Gateways are shown as unknown, not offline, until it can.`,
    );
  const c = byId('conn');
  if (c.dataset.conn === 'live' || c.dataset.conn === 'blind') {
    c.dataset.conn = blind ? 'blind' : 'live';
    setText(c, blind ? 'no Kafka: not live' : 'live');
  }
}

function renderFoot(): void {
  const parts: string[] = [];
  if (device) parts.push('Served by this gateway; updated every second.');
  else {
    if (meta.topic) parts.push(`Status topic ${meta.topic} on ${meta.brokers ?? '?'}.`);
    if (meta.caughtUp === false) parts.push('Reading the topic from the beginning…');
    if (meta.refusedRecords)
      parts.push(
        `Tracking at most ${meta.maxGateways ?? '?'} gateways: ${meta.refusedRecords} statuses of further gateways refused.`,
      );
    if (meta.notKeptRecords)
      parts.push(
        `Status memory full: ${meta.notKeptRecords} statuses of known gateways not kept (they stay online, showing their last figures).`,
      );
    if (meta.rejectedRecords)
      parts.push(`${meta.rejectedRecords} invalid status records ignored (last: ${meta.lastRejection ?? '?'}).`);
  }
  setText(byId('foot'), parts.join(' '));
}

function apply(msg: Message, snapshot: boolean): void {
  skew = msg.serverNow - Date.now();
  meta = msg.meta;
  if (snapshot) {
    const ids = new Set(msg.entries.map((e) => e.gateway));
    for (const id of entries.keys()) if (!ids.has(id)) entries.delete(id);
  }
  for (const id of msg.removed) entries.delete(id);
  for (const e of msg.entries) {
    entries.set(e.gateway, e);
    changed.add(e.gateway);
  }
  if (device) {
    const only = msg.entries[0];
    if (only && view.selected !== only.gateway) {
      document.title = `${only.gateway} · sensorgate`;
      setText(byId('brand-sub'), only.gateway);
      select(only.gateway);
    }
  }
  schedule();
}

function setConn(state: 'live' | 'connecting' | 'down'): void {
  const c = byId('conn');
  c.dataset.conn = state;
  setText(c, state === 'live' ? 'live' : state === 'connecting' ? 'reconnecting…' : 'disconnected; retrying');
}

function connect(): void {
  const es = new EventSource('/api/events');
  es.addEventListener('snapshot', (ev) => apply(JSON.parse((ev as MessageEvent<string>).data) as Message, true));
  es.addEventListener('update', (ev) => apply(JSON.parse((ev as MessageEvent<string>).data) as Message, false));
  es.onopen = () => setConn('live');
  es.onerror = () => {
    if (es.readyState !== EventSource.CLOSED) return setConn('connecting');
    // Closed for good (e.g. the server refused): EventSource gives up, we do not.
    setConn('down');
    setTimeout(connect, 5000);
  };
}

/** Sort by `key`: the column's natural direction first, the other one on a second click. */
function setSort(key: SortKey, dir = view.sort === key ? (-view.dir as 1 | -1) : DEFAULT_DIR[key]): void {
  view.dir = dir;
  view.sort = key;
  for (const th of document.querySelectorAll<HTMLElement>('#grid th')) {
    const k = th.querySelector<HTMLElement>('button')?.dataset.sort;
    if (k === key) th.setAttribute('aria-sort', view.dir === 1 ? 'ascending' : 'descending');
    else th.removeAttribute('aria-sort');
  }
  schedule();
}

function setFilter(filter: Filter): void {
  view.filter = filter;
  view.page = 0;
  for (const chip of document.querySelectorAll<HTMLElement>('#chips .chip'))
    chip.setAttribute('aria-pressed', String(chip.dataset.filter === filter));
  schedule();
}

for (const b of document.querySelectorAll<HTMLElement>('#grid th button'))
  b.addEventListener('click', () => setSort(b.dataset.sort as SortKey));
for (const chip of document.querySelectorAll<HTMLElement>('#chips .chip'))
  chip.addEventListener('click', () => setFilter(chip.dataset.filter as Filter));
byId<HTMLInputElement>('search').addEventListener('input', (ev) => {
  view.search = (ev.target as HTMLInputElement).value.trim();
  view.page = 0;
  schedule();
});
byId('page-prev').addEventListener('click', () => {
  view.page--;
  schedule();
});
byId('page-next').addEventListener('click', () => {
  view.page++;
  schedule();
});
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && !device && view.selected !== undefined) select(undefined);
});

setSort('state', DEFAULT_DIR.state);
setFilter('all');
const fromHash = /^#gw=(.+)$/.exec(location.hash)?.[1];
if (fromHash && !device) select(decodeURIComponent(fromHash));
connect();
// Ages ("12 s ago") move on even when nothing arrives.
setInterval(schedule, 1000);
