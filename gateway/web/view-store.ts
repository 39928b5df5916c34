/**
 * What the status pages show: the latest status of each gateway, when it was last heard from,
 * whether it counts as online, stale or offline, and an hour of history for the charts. The fleet
 * server fills it from the status topic, the gateway from its own Status; the pages read it.
 */
import type { StatusView } from '../status/status-document.js';

/** unknown: the observer cannot read the gateways' statuses now (the fleet lost its Kafka). */
export type GatewayState = 'online' | 'stale' | 'offline' | 'unknown';

/**
 * Silence is judged in heartbeat intervals of the gateway itself (its status says how often it
 * publishes). Stale: a heartbeat is half an interval late. Offline: two heartbeats are missing.
 * A gateway that dies right after a heartbeat is thus offline 2 intervals later, and on the page
 * a fleet tick (250 ms) after that: within the 3 intervals operators were promised.
 */
export const STALE_AFTER_INTERVALS = 1.5;
export const OFFLINE_AFTER_INTERVALS = 2;
/** For a status that does not say (older gateways): the gateway's default interval. */
export const ASSUMED_INTERVAL_MS = 10_000;

/** A fetch that answered a moment ago may not have handed over its records yet. */
const HEARD_SLACK_MS = 1000;

export const HISTORY_SPAN_MS = 60 * 60_000;
/** At most one chart point per this step (720 per hour), whatever the heartbeat interval. */
export const HISTORY_STEP_MS = 5000;

/** One gateway on the wire: its GatewayStatus plus what the observer concluded (docs/status.md: the fleet server). */
export type ViewEntry = StatusView & { online: boolean; lastSeenTs: number; state: GatewayState };

/** Chart columns, oldest first; ts in epoch ms. */
export interface History {
  ts: number[];
  depth: number[];
  oldestAgeS: number[];
  ingestPerS: number[];
  sendPerS: number[];
}

interface Entry {
  status: StatusView;
  /** Size of the status as kept (its JSON), counted against the store's byte budget. */
  bytes: number;
  lastSeenTs: number;
  state: GatewayState;
  /** The serialised ViewEntry, kept until it changes: /api/gateways joins these. */
  json: string | undefined;
  history: History;
}

export function gatewayState(status: StatusView, lastSeenTs: number, now: number): GatewayState {
  if (status.running === false) return 'offline';
  const interval = status.heartbeatIntervalMs ?? ASSUMED_INTERVAL_MS;
  const silent = now - lastSeenTs;
  if (silent > OFFLINE_AFTER_INTERVALS * interval) return 'offline';
  if (silent > STALE_AFTER_INTERVALS * interval) return 'stale';
  return 'online';
}

export interface TickResult {
  /** Serialised ViewEntries that changed since the last tick. */
  changed: string[];
  removed: string[];
}

/** kept: the status replaced the last one. heard: a known gateway, its last status kept (no room). refused: nothing kept. */
export type PutResult = 'kept' | 'heard' | 'refused';

export interface ViewStoreLimits {
  /** Gateways tracked at most; statuses of further gateways are refused. */
  maxGateways?: number;
  /** Bytes of status JSON kept at most, all gateways together. */
  maxBytes?: number;
}

export class ViewStore {
  private readonly entries = new Map<string, Entry>();
  private readonly dirty = new Set<string>();
  private readonly removed = new Set<string>();
  private bytes = 0;
  /** While blind, silence proves nothing: gateways that did not say they stopped are unknown. */
  private blind = false;
  private everSighted = false;
  /** When sight came back after blindness: silence is judged from then, not from before. */
  private sightSince = 0;
  /** Until when everything the gateways said has been heard (undefined: always up to now). */
  private heardUntil: number | undefined;

  constructor(private readonly limits: ViewStoreLimits = {}) {}

  get size(): number {
    return this.entries.size;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  /**
   * Whether the observer can hear the gateways now (the fleet's Kafka consumer is fetching).
   * Losing sight makes gateways unknown, not offline; regaining it gives each gateway its usual
   * grace (two heartbeat intervals) to be heard again before it counts as offline. `heardUntil`
   * (when the feed last answered) stops silence from growing in the seconds before a lost feed
   * is noticed: a gateway is only silent for as long as someone was listening.
   */
  setSight(ok: boolean, now = Date.now(), heardUntil?: number): void {
    this.heardUntil = heardUntil === undefined ? undefined : heardUntil + HEARD_SLACK_MS;
    if (ok === !this.blind && (this.everSighted || !ok)) return;
    if (ok && this.everSighted) this.sightSince = now;
    if (ok) this.everSighted = true;
    this.blind = !ok;
  }

  /**
   * A status heard at `seenTs` (receive time, or the record's time when replaying the topic).
   * The limits stop new gateways only: a new gateway that would exceed them is refused, keeping
   * nothing. A known gateway is always heard (its lastSeenTs moves on, so it stays online); its
   * status replaces the old one if the byte budget has room for it, else it keeps its last one.
   * Letting known gateways grow past the budget would not bound it: every tracked gateway could
   * grow to the largest record.
   */
  put(id: string, status: StatusView, seenTs: number, now = Date.now(), bytes = 0): PutResult {
    let e = this.entries.get(id);
    const growth = bytes - (e?.bytes ?? 0);
    const fits = growth <= 0 || this.bytes + growth <= (this.limits.maxBytes ?? Infinity);
    if (e && !fits) {
      e.lastSeenTs = Math.max(e.lastSeenTs, seenTs);
      e.state = this.judge(e, now);
      e.json = undefined;
      this.dirty.add(id);
      return 'heard';
    }
    if (!e && (!fits || this.entries.size >= (this.limits.maxGateways ?? Infinity))) return 'refused';
    if (!e) {
      e = {
        status,
        bytes: 0,
        lastSeenTs: seenTs,
        state: 'online',
        json: undefined,
        history: { ts: [], depth: [], oldestAgeS: [], ingestPerS: [], sendPerS: [] },
      };
      this.entries.set(id, e);
    }
    this.bytes += growth;
    e.bytes = bytes;
    e.status = status;
    e.lastSeenTs = Math.max(e.lastSeenTs, seenTs);
    e.state = this.judge(e, now);
    e.json = undefined;
    record(e.history, status, seenTs, now);
    this.removed.delete(id);
    this.dirty.add(id);
    return 'kept';
  }

  remove(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    this.bytes -= e.bytes;
    this.dirty.delete(id);
    this.removed.add(id);
  }

  /** Re-judge every gateway against `now`; hand out what changed since the last tick. */
  tick(now = Date.now()): TickResult {
    for (const [id, e] of this.entries) {
      const state = this.judge(e, now);
      if (state !== e.state) {
        e.state = state;
        e.json = undefined;
        this.dirty.add(id);
      }
    }
    const changed = [...this.dirty].map((id) => this.json(this.entries.get(id)!));
    const removed = [...this.removed];
    this.dirty.clear();
    this.removed.clear();
    return { changed, removed };
  }

  /** Every gateway as a JSON array (/api/gateways in docs/reference/status-and-metrics.md). */
  listJson(): string {
    let out = '[';
    let first = true;
    for (const e of this.entries.values()) {
      out += (first ? '' : ',') + this.json(e);
      first = false;
    }
    return `${out}]`;
  }

  history(id: string, now = Date.now()): History | undefined {
    const h = this.entries.get(id)?.history;
    if (h) trim(h, now);
    return h;
  }

  private judge(e: Entry, now: number): GatewayState {
    if (this.blind && e.status.running !== false) return 'unknown';
    const heardNow = this.heardUntil === undefined ? now : Math.min(now, this.heardUntil);
    return gatewayState(e.status, Math.max(e.lastSeenTs, this.sightSince), heardNow);
  }

  private json(e: Entry): string {
    e.json ??= JSON.stringify(view(e));
    return e.json;
  }
}

function view(e: Entry): ViewEntry {
  // online: as far as anyone knows (an unknown gateway was online when last heard of).
  return { ...e.status, online: e.state !== 'offline', lastSeenTs: e.lastSeenTs, state: e.state };
}

function record(h: History, s: StatusView, ts: number, now: number): void {
  if (ts < now - HISTORY_SPAN_MS) return; // replaying the topic: older than the charts show
  const last = h.ts.length - 1;
  // Points stand at least a step apart, except the last one, which follows the latest status
  // until the step is full (so the chart always ends at the latest status).
  const i = last >= 1 && ts - h.ts[last - 1]! < HISTORY_STEP_MS ? last : h.ts.length;
  h.ts[i] = Math.max(ts, h.ts[last] ?? ts);
  h.depth[i] = s.buffer.depth;
  h.oldestAgeS[i] =
    s.buffer.oldestAgeS ?? (s.buffer.oldestTs === null ? 0 : Math.max(0, (s.ts - s.buffer.oldestTs) / 1000));
  h.ingestPerS[i] = s.rates?.ingestPerS ?? 0;
  h.sendPerS[i] = s.rates?.sendPerS ?? 0;
  trim(h, now);
}

function trim(h: History, now: number): void {
  let n = 0;
  while (n < h.ts.length && h.ts[n]! < now - HISTORY_SPAN_MS) n++;
  if (n === 0) return;
  for (const col of [h.ts, h.depth, h.oldestAgeS, h.ingestPerS, h.sendPerS]) col.splice(0, n);
}
