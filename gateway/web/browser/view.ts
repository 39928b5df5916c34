/**
 * What the page concludes from a gateway's entry: ages as of now, whether it needs attention,
 * filtering and sorting. Pure functions (tested in Node), no DOM.
 */
import type { GatewayState, ViewEntry } from '../view-store.js';

export type Filter = 'all' | GatewayState | 'attention';
export type SortKey =
  | 'state'
  | 'id'
  | 'problems'
  | 'seen'
  | 'uplink'
  | 'depth'
  | 'oldest'
  | 'ingest'
  | 'send'
  | 'sources'
  | 'rejected'
  | 'host'
  | 'version';
export type SortDir = 1 | -1;

/** An oldest unsent reading older than this means the uplink is not keeping up. */
export const OLDEST_ATTENTION_S = 60;

/**
 * Seconds from a gateway-clock timestamp in the status until now. Measured on the gateway's own
 * clock up to its status, then on ours since it was heard: a gateway with a wrong clock (a Pi
 * without network time) still shows honest ages.
 */
export function secondsSince(e: ViewEntry, gatewayTs: number | null | undefined, now: number): number | null {
  if (gatewayTs === null || gatewayTs === undefined) return null;
  return Math.max(0, (e.ts - gatewayTs) / 1000) + Math.max(0, (now - e.lastSeenTs) / 1000);
}

export function oldestUnsentS(e: ViewEntry, now: number): number | null {
  if (e.buffer.oldestTs === null) return null;
  const atStatus = e.buffer.oldestAgeS ?? Math.max(0, (e.ts - e.buffer.oldestTs) / 1000);
  return atStatus + Math.max(0, (now - e.lastSeenTs) / 1000);
}

/** The uplink in one word: up, stalled (connected but nothing acknowledged) or down. */
export function uplinkWord(e: ViewEntry): 'up' | 'stalled' | 'down' {
  if (e.uplink.connected) return 'up';
  return e.problems?.some((p) => p.code === 'uplink_stalled') ? 'stalled' : 'down';
}

export function sourcesUp(e: ViewEntry): { up: number; total: number; notUp: string[] } {
  const notUp = e.sources.filter((s) => s.state !== 'up').map((s) => s.id);
  return { up: e.sources.length - notUp.length, total: e.sources.length, notUp };
}

export function rejectedTotal(e: ViewEntry): number {
  return e.sources.reduce((n, s) => n + s.rejected, 0);
}

export function needsAttention(e: ViewEntry, now: number): boolean {
  return (
    e.state !== 'online' ||
    (e.problems?.length ?? 0) > 0 ||
    !e.uplink.connected ||
    sourcesUp(e).notUp.length > 0 ||
    (oldestUnsentS(e, now) ?? 0) > OLDEST_ATTENTION_S
  );
}

export function matches(e: ViewEntry, filter: Filter, search: string, now: number): boolean {
  if (filter === 'attention' ? !needsAttention(e, now) : filter !== 'all' && e.state !== filter) return false;
  if (!search) return true;
  const q = search.toLowerCase();
  return e.gateway.toLowerCase().includes(q) || (e.host?.hostname ?? '').toLowerCase().includes(q);
}

const STATE_ORDER: Record<GatewayState, number> = { offline: 0, stale: 1, unknown: 2, online: 3 };

function sortValue(e: ViewEntry, key: SortKey, now: number): number | string {
  switch (key) {
    case 'state':
      return STATE_ORDER[e.state] * 10 + (needsAttention(e, now) ? 0 : 1);
    case 'id':
      return e.gateway;
    case 'problems':
      return -(e.problems?.length ?? 0);
    case 'seen':
      return -e.lastSeenTs;
    case 'uplink':
      return e.uplink.connected ? 1 : 0;
    case 'depth':
      return e.buffer.depth;
    case 'oldest':
      return oldestUnsentS(e, now) ?? -1;
    case 'ingest':
      return e.rates?.ingestPerS ?? -1;
    case 'send':
      return e.rates?.sendPerS ?? -1;
    case 'sources': {
      const s = sourcesUp(e);
      return s.total === 0 ? 1 : s.up / s.total;
    }
    case 'rejected':
      return rejectedTotal(e);
    case 'host':
      return e.host?.hostname ?? '';
    case 'version':
      return e.version;
  }
}

/** Sort order with the gateway id as tie-breaker, so rows do not jump between equal values. */
export function comparator(key: SortKey, dir: SortDir, now: number): (a: ViewEntry, b: ViewEntry) => number {
  return (a, b) => {
    const va = sortValue(a, key, now);
    const vb = sortValue(b, key, now);
    const c = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
    return c * dir || a.gateway.localeCompare(b.gateway);
  };
}

/** Which key each column sorts by first, and in which direction (the worst first). */
export const DEFAULT_DIR: Record<SortKey, SortDir> = {
  state: 1,
  id: 1,
  problems: 1,
  seen: -1,
  uplink: 1,
  depth: -1,
  oldest: -1,
  ingest: -1,
  send: -1,
  sources: 1,
  rejected: -1,
  host: 1,
  version: 1,
};
