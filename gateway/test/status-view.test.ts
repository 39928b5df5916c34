/** What the status pages conclude: online/stale/offline, chart history, ages, sorting, filtering. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StatusView } from '../status/status-document.js';
import { ago, bytes, count, duration, problemText, rate, reasons } from '../web/browser/format.js';
import { comparator, matches, needsAttention, oldestUnsentS, secondsSince, uplinkWord } from '../web/browser/view.js';
import {
  gatewayState,
  HISTORY_SPAN_MS,
  OFFLINE_AFTER_INTERVALS,
  type ViewEntry,
  ViewStore,
} from '../web/view-store.js';

const T0 = 1_700_000_000_000;

function status(gateway: string, over: Partial<StatusView> = {}): StatusView {
  return {
    gateway,
    version: '1.0.0',
    ts: T0,
    uptimeS: 60,
    heartbeatIntervalMs: 1000,
    buffer: { depth: 0, bytes: 0, oldestTs: null },
    uplink: { connected: true, lastAckTs: T0, lastError: null },
    sources: [{ id: 'a', driver: 'mqtt', state: 'up', lastReadingTs: T0, readings: 1, rejected: 0 }],
    ...over,
  };
}

function entry(gateway: string, over: Partial<ViewEntry> = {}): ViewEntry {
  return { ...status(gateway), online: true, lastSeenTs: T0, state: 'online', ...over };
}

test('online, stale, offline by silence in heartbeat intervals; offline within 3 intervals; a farewell is offline at once', () => {
  const s = status('gw');
  assert.equal(gatewayState(s, T0, T0 + 1400), 'online');
  assert.equal(gatewayState(s, T0, T0 + 1600), 'stale');
  assert.equal(gatewayState(s, T0, T0 + 1900), 'stale');
  assert.equal(gatewayState(s, T0, T0 + 2100), 'offline');
  assert.ok(
    OFFLINE_AFTER_INTERVALS < 3,
    'a gateway that died right after a heartbeat is offline before 3 intervals pass',
  );
  assert.equal(
    gatewayState({ ...s, heartbeatIntervalMs: undefined }, T0, T0 + 12_000),
    'online',
    'older gateways: 10 s assumed',
  );
  assert.equal(gatewayState({ ...s, running: false }, T0, T0), 'offline');
});

test('ViewStore: latest status per gateway, state changes handed out once, tombstones remove', () => {
  const store = new ViewStore();
  store.put('a', status('a'), T0, T0);
  store.put('b', status('b'), T0, T0);
  store.put('a', status('a', { version: '2.0.0' }), T0 + 500, T0 + 500);
  let t = store.tick(T0 + 600);
  assert.equal(t.changed.length, 2);
  const list = JSON.parse(store.listJson()) as ViewEntry[];
  assert.deepEqual(
    list.map((e) => [e.gateway, e.version, e.online, e.lastSeenTs, e.state]),
    [
      ['a', '2.0.0', true, T0 + 500, 'online'],
      ['b', '1.0.0', true, T0, 'online'],
    ],
  );
  assert.deepEqual(store.tick(T0 + 700).changed, [], 'nothing changed');
  t = store.tick(T0 + 2300);
  const judged = t.changed.map((j) => JSON.parse(j) as ViewEntry).map((e) => [e.gateway, e.state, e.online]);
  assert.deepEqual(
    judged,
    [
      ['a', 'stale', true],
      ['b', 'offline', false],
    ],
    'silent for 1.8 and 2.3 intervals',
  );
  store.remove('b');
  assert.deepEqual(store.tick(T0 + 2400).removed, ['b']);
  assert.equal(store.size, 1);
});

test('ViewStore history: one point per step, the last one following the latest status, an hour kept', () => {
  const store = new ViewStore();
  // A heartbeat every second for 20 s.
  for (let i = 0; i <= 20; i++)
    store.put(
      'a',
      status('a', { buffer: { depth: i, bytes: 0, oldestTs: null }, rates: { ingestPerS: i, sendPerS: 0 } }),
      T0 + i * 1000,
      T0 + i * 1000,
    );
  const h = store.history('a', T0 + 20_000)!;
  assert.ok(h.ts.length >= 4 && h.ts.length <= 6, `about one point per 5 s, got ${h.ts.length}`);
  assert.equal(h.ts.at(-1), T0 + 20_000);
  assert.equal(h.depth.at(-1), 20, 'the chart ends at the latest status');
  for (let i = 1; i < h.ts.length; i++) assert.ok(h.ts[i]! > h.ts[i - 1]!, 'time goes forward');
  const later = store.history('a', T0 + HISTORY_SPAN_MS + 10_000)!;
  assert.ok(
    later.ts.every((ts) => ts >= T0 + 10_000),
    'points older than an hour are dropped',
  );
  store.put('old', status('old'), T0 - 2 * HISTORY_SPAN_MS, T0);
  assert.equal(store.history('old', T0)!.ts.length, 0, 'replayed statuses older than the chart are not charted');
});

test('ages use the gateway clock up to its status and ours since: a wrong gateway clock does not distort them', () => {
  // The gateway's clock is a day behind; its status says the oldest reading is 30 s old.
  const day = 86_400_000;
  const e = entry('gw', {
    ts: T0 - day,
    lastSeenTs: T0,
    buffer: { depth: 3, bytes: 10, oldestTs: T0 - day - 30_000 },
    uplink: { connected: false, lastAckTs: null, lastError: 'x', sinceTs: T0 - day - 60_000 },
  });
  assert.equal(oldestUnsentS(e, T0 + 10_000), 40);
  assert.equal(secondsSince(e, e.uplink.sinceTs, T0 + 10_000), 70);
  assert.equal(secondsSince(e, null, T0), null);
  assert.equal(
    oldestUnsentS({ ...e, buffer: { ...e.buffer, oldestAgeS: 12 } }, T0 + 1000),
    13,
    'oldestAgeS from the gateway wins',
  );
});

test('needs attention: not online, uplink down, a source not up, or an old backlog', () => {
  assert.equal(needsAttention(entry('ok'), T0), false);
  assert.equal(needsAttention(entry('s', { state: 'stale' }), T0), true);
  assert.equal(
    needsAttention(entry('u', { uplink: { connected: false, lastAckTs: null, lastError: null } }), T0),
    true,
  );
  assert.equal(
    needsAttention(
      entry('d', {
        sources: [{ id: 'a', driver: 'serial', state: 'down', lastReadingTs: null, readings: 0, rejected: 0 }],
      }),
      T0,
    ),
    true,
  );
  assert.equal(needsAttention(entry('b', { buffer: { depth: 5, bytes: 5, oldestTs: T0 - 120_000 } }), T0), true);
});

test('filter by state, attention and search; sort problems first with a stable tie-breaker', () => {
  const list = [
    entry('zeta', { host: { hostname: 'press-pi' } }),
    entry('alpha', { state: 'offline', online: false }),
    entry('beta', { state: 'stale' }),
    entry('gamma', { buffer: { depth: 900, bytes: 1, oldestTs: T0 - 10_000 } }),
  ];
  const names = (xs: ViewEntry[]) => xs.map((e) => e.gateway);
  assert.deepEqual(names(list.filter((e) => matches(e, 'offline', '', T0))), ['alpha']);
  assert.deepEqual(names(list.filter((e) => matches(e, 'attention', '', T0))), ['alpha', 'beta']);
  assert.deepEqual(
    names(list.filter((e) => matches(e, 'all', 'PRESS', T0))),
    ['zeta'],
    'search matches the hostname too',
  );
  assert.deepEqual(names([...list].sort(comparator('state', 1, T0))), ['alpha', 'beta', 'gamma', 'zeta']);
  assert.deepEqual(names([...list].sort(comparator('depth', -1, T0))), ['gamma', 'alpha', 'beta', 'zeta']);
  assert.deepEqual(names([...list].sort(comparator('id', 1, T0))), ['alpha', 'beta', 'gamma', 'zeta']);
});

test('formatting for the page', () => {
  assert.equal(duration(42), '42 s');
  assert.equal(duration(125), '2 min');
  assert.equal(duration(3 * 3600 + 5 * 60), '3 h 05 min');
  assert.equal(duration(2 * 86_400 + 7200), '2 d 2 h');
  assert.equal(duration(null), '—');
  assert.equal(ago(T0 - 5000, T0), '5 s ago');
  assert.equal(ago(null, T0), 'never');
  assert.equal(bytes(512), '512 B');
  assert.equal(bytes(1536), '1.5 KiB');
  assert.equal(bytes(5 * 1024 ** 3), '5.0 GiB');
  assert.equal(count(1234567), '1\u2009234\u2009567');
  assert.equal(rate(0.25), '0.3');
  assert.equal(rate(480.4), '480');
  assert.equal(reasons({ too_large: 1, invalid_json: 3, zero: 0 }), 'invalid_json 3, too_large 1');
});

test('ViewStore: while the observer cannot hear, gateways are unknown, not offline; after, each gets its grace again', () => {
  const store = new ViewStore();
  store.setSight(true, T0, T0);
  store.put('alive', status('alive'), T0, T0);
  store.put('bye', status('bye', { running: false }), T0, T0);
  store.tick(T0);
  // The feed stops answering at T0 + 500; its loss is noticed at T0 + 6000. Meanwhile silence
  // only counts up to the last answered fetch (plus a second's slack): never offline.
  store.setSight(true, T0 + 3000, T0 + 500);
  assert.notEqual(stateOf(store, 'alive', T0 + 5000), 'offline');
  store.setSight(false, T0 + 6000, T0 + 500);
  assert.equal(stateOf(store, 'alive', T0 + 60_000), 'unknown');
  assert.equal(stateOf(store, 'bye', T0 + 60_000), 'offline', 'a farewell is offline whatever');
  const view = JSON.parse(store.listJson()) as ViewEntry[];
  assert.deepEqual(
    view.map((e) => [e.gateway, e.state, e.online]),
    [
      ['alive', 'unknown', true],
      ['bye', 'offline', false],
    ],
  );
  // Back at T0 + 120 s: two intervals (2 s) of grace from then, not from the last status.
  store.setSight(true, T0 + 120_000, T0 + 120_000);
  assert.equal(stateOf(store, 'alive', T0 + 120_500), 'online');
  store.setSight(true, T0 + 123_000, T0 + 123_000);
  assert.equal(stateOf(store, 'alive', T0 + 123_000), 'offline', 'still silent after the grace: offline now');
});

test('ViewStore: at most maxGateways and maxBytes for new gateways; a known one is always heard; a removal frees a place', () => {
  const store = new ViewStore({ maxGateways: 2, maxBytes: 1000 });
  assert.equal(store.put('a', status('a'), T0, T0, 300), 'kept');
  assert.equal(store.put('b', status('b'), T0, T0, 300), 'kept');
  assert.equal(store.put('c', status('c'), T0, T0, 300), 'refused', 'over the gateway cap');
  assert.equal(store.size, 2);
  assert.equal(store.put('a', status('a', { version: '2' }), T0 + 5000, T0 + 5000, 800), 'heard', 'no room to grow');
  assert.equal(store.totalBytes, 600);
  const a = (JSON.parse(store.listJson()) as ViewEntry[]).find((e) => e.gateway === 'a')!;
  assert.deepEqual([a.version, a.lastSeenTs, a.state], ['1.0.0', T0 + 5000, 'online'], 'last status, heard now');
  assert.equal(store.put('a', status('a', { version: '2' }), T0, T0, 200), 'kept', 'shrinking is always fine');
  assert.equal(store.totalBytes, 500);
  store.remove('b');
  assert.equal(store.totalBytes, 200);
  assert.equal(store.put('c', status('c'), T0, T0, 300), 'kept');
  assert.equal(store.put('d', status('d'), T0, T0, 10), 'refused', 'over the gateway cap again');
  assert.deepEqual(
    (JSON.parse(store.listJson()) as ViewEntry[]).map((e) => e.gateway),
    ['a', 'c'],
  );
});

function stateOf(store: ViewStore, id: string, now: number): string | undefined {
  store.tick(now);
  return (JSON.parse(store.listJson()) as ViewEntry[]).find((e) => e.gateway === id)?.state;
}

test('problems in words; a gateway with a problem needs attention', () => {
  assert.equal(
    problemText({ code: 'uplink_stalled', detail: 'connected, but nothing acknowledged for 21 s' }),
    'Kafka acknowledges nothing: connected, but nothing acknowledged for 21 s',
  );
  assert.equal(
    problemText({ code: 'source_down', detail: 'press: /dev/ttyUSB0 closed' }),
    'Source down: press: /dev/ttyUSB0 closed',
  );
  assert.equal(
    problemText({ code: 'some_new_code', detail: '' }),
    'some new code',
    'codes from newer gateways still read',
  );
  assert.equal(needsAttention(entry('ok'), T0), false);
  assert.equal(
    needsAttention(entry('clock', { problems: [{ code: 'clock_unsynced', detail: 'no NTP', since: T0 }] }), T0),
    true,
  );
});

test('the uplink in one word: a stalled uplink is not called down', () => {
  assert.equal(uplinkWord(entry('a')), 'up');
  assert.equal(uplinkWord(entry('b', { uplink: { connected: false, lastAckTs: T0, lastError: 'x' } })), 'down');
  assert.equal(
    uplinkWord(
      entry('c', {
        uplink: { connected: false, lastAckTs: T0, lastError: null },
        problems: [{ code: 'uplink_stalled', detail: 'd', since: T0 }],
      }),
    ),
    'stalled',
  );
});
