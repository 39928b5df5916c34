/** The gateway's own status: GatewayStatus, rates, /metrics, the local endpoint and its guard. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../deploy/net.js';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { ConfigError, validateConfig } from '../config/config.js';
import { parseStatusRecord } from '../offsite/fleet/status-record.js';
import { MAX_PROBLEMS } from '../status/problem-limit.js';
import { RateWindow, Status } from '../status/status.js';
import { type GatewayStatus, statusSchema } from '../status/status-document.js';
import { close } from '../web/http.js';
import { startStatusServer } from '../web/status-server.js';
import { bufferDefaults } from './support/pipeline-fixture.js';

/** parse-prometheus-text-format ships no types; its result is described here. */
type Family = {
  name: string;
  help: string;
  type: string;
  metrics: Array<{
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }>;
};
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

const TOKEN = 'test-token-0123456789abcdef';
const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function setup(opts: { heartbeatIntervalMs?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sg-status-'));
  const buffer = SqliteBuffer.open(dir, bufferDefaults);
  cleanups.push(
    () => rmSync(dir, { recursive: true, force: true }),
    () => buffer.close(),
  );
  const status = new Status('gw-status', '9.9.9', { bootId: 'boot-1', synced: () => false }, () => buffer.stats(), {
    dataDir: dir,
    ...opts,
  });
  return { dir, buffer, status };
}

async function serve(status: Status, authToken?: string): Promise<{ base: string; port: number }> {
  const port = await freePort();
  const server: Server = await startStatusServer(status, `127.0.0.1:${port}`, { authToken });
  cleanups.push(() => close(server));
  return { base: `http://127.0.0.1:${port}`, port };
}

/** A raw GET, so that the Host header can be chosen (fetch does not allow it). */
function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('RateWindow: readings per second over the last minute, forgetting older seconds', () => {
  const t0 = 1_700_000_000_000;
  const w = new RateWindow(t0 - 120_000);
  for (let s = 0; s < 30; s++) w.add(10, t0 + s * 1000);
  assert.equal(w.perSecond(t0 + 29_500), 5, '300 readings in the last 60 s');
  assert.equal(w.perSecond(t0 + 88_000), 0.17, 'only the last of those seconds is still within the minute');
  assert.equal(w.perSecond(t0 + 200_000), 0);
  const young = new RateWindow(t0);
  young.add(20, t0 + 500);
  young.add(20, t0 + 1500);
  assert.equal(young.perSecond(t0 + 2000), 20, 'a gateway up for 2 s averages over 2 s, not a minute');
});

test('GatewayStatus: the contract fields, plus rates, host facts, clock, boot id and interval', () => {
  const { buffer, status } = setup({ heartbeatIntervalMs: 1234 });
  status.addSource('plant', 'mqtt');
  status.sourceState('plant', 'up');
  buffer.append([{ key: 'gw/s', ts: Date.now() - 5000, encode: (seq) => `{"seq":${seq}}` }], []);
  status.ingested('plant', 30, 1_700_000_000_123);
  status.rejected('plant', 'invalid_json');
  status.rejected('plant', 'invalid_json');
  status.sent(12);
  status.uplinkState(false, 'connect ECONNREFUSED');
  const s = status.snapshot();
  assert.equal(s.gateway, 'gw-status');
  assert.equal(s.version, '9.9.9');
  assert.equal(s.bootId, 'boot-1');
  assert.equal(s.clockSynced, false);
  assert.equal(s.running, true);
  assert.equal(s.heartbeatIntervalMs, 1234);
  assert.equal(s.buffer.depth, 1);
  assert.ok(s.buffer.bytes > 0);
  assert.ok(s.buffer.oldestAgeS !== null && s.buffer.oldestAgeS >= 5, `oldest age ${s.buffer.oldestAgeS}`);
  assert.equal(s.buffer.drainEtaS, null, 'the uplink is down: the buffer is not draining');
  assert.deepEqual(
    { connected: s.uplink.connected, lastError: s.uplink.lastError, sent: s.uplink.sent },
    { connected: false, lastError: 'connect ECONNREFUSED', sent: 12 },
  );
  assert.ok(s.uplink.lastErrorTs !== null && s.uplink.lastAckTs !== null);
  assert.ok(s.rates.ingestPerS > 0 && s.rates.sendPerS > 0, JSON.stringify(s.rates));
  const src = s.sources[0]!;
  assert.deepEqual(
    {
      id: src.id,
      driver: src.driver,
      state: src.state,
      readings: src.readings,
      lastReadingTs: src.lastReadingTs,
      rejected: src.rejected,
      rejectedByReason: src.rejectedByReason,
    },
    {
      id: 'plant',
      driver: 'mqtt',
      state: 'up',
      readings: 30,
      lastReadingTs: 1_700_000_000_123,
      rejected: 2,
      rejectedByReason: { invalid_json: 2 },
    },
  );
  assert.ok(src.ratePerS > 0);
  assert.ok(s.host.diskFreeBytes !== null && s.host.diskFreeBytes > 0, 'disk free of dataDir');
  assert.ok(s.host.rssBytes > 1 << 20);
  assert.equal(s.host.load.length, 3);
  assert.ok(s.host.cpuTempC === null || Number.isFinite(s.host.cpuTempC));
});

test('drainEtaS: the buffer over its net shrink rate while connected; 0 when empty; null while it grows', () => {
  const { buffer, status } = setup();
  assert.equal(status.snapshot().buffer.drainEtaS, 0, 'empty');
  buffer.append(
    Array.from({ length: 600 }, () => ({ key: 'gw/s', ts: Date.now(), encode: (seq) => `{"seq":${seq}}` })),
  );
  status.uplinkState(true);
  status.addSource('plant', 'mqtt');
  status.ingested('plant', 60, Date.now());
  status.sent(1860);
  const s = status.snapshot();
  assert.ok(s.rates.sendPerS > s.rates.ingestPerS, JSON.stringify(s.rates));
  assert.equal(s.buffer.drainEtaS, Math.round(600 / (s.rates.sendPerS - s.rates.ingestPerS)), JSON.stringify(s.rates));
  status.ingested('plant', 3000, Date.now());
  assert.equal(status.snapshot().buffer.drainEtaS, null, 'more comes in than goes out');
});

test('state changes are announced once, repeats are not', () => {
  const { status } = setup();
  let changes = 0;
  status.onChange(() => changes++);
  status.addSource('a', 'mqtt');
  status.sourceState('a', 'up');
  status.sourceState('a', 'up', 'still up');
  status.uplinkState(true);
  status.uplinkState(true);
  status.uplinkState(false, 'gone');
  status.uplinkState(false, 'still gone');
  assert.equal(changes, 3, 'source up, uplink connected, uplink lost');
});

test('/metrics parses as Prometheus text and carries the contract names', async () => {
  const { status } = setup();
  status.addSource('plant', 'mqtt');
  status.sourceState('plant', 'up');
  status.ingested('plant', 5, Date.now());
  status.rejected('plant', 'bad_checksum');
  status.dropped('drop_oldest', 2);
  status.sent(5);
  status.produceLatency(0.042);
  status.uplinkState(true);
  const { base } = await serve(status);
  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const families = parsePrometheus(text);
  // The parser skips what it does not understand: every sample line of ours must be accounted
  // for (it merges the labelled histograms of the process defaults, so those are left out).
  const ours = (name: string) => name.startsWith('sensorgate_');
  const samples = text.split('\n').filter((l) => l && !l.startsWith('#') && ours(l)).length;
  const parsed = families
    .filter((f) => ours(f.name))
    .reduce(
      (n, f) =>
        n +
        (f.type === 'HISTOGRAM'
          ? f.metrics.reduce((m, x) => m + Object.keys(x.buckets ?? {}).length + 2, 0)
          : f.metrics.length),
      0,
    );
  assert.equal(parsed, samples, 'every sample line parsed');
  const byName = new Map(families.map((f) => [f.name, f]));
  const expect: Array<[string, string, string[]]> = [
    ['sensorgate_readings_ingested_total', 'COUNTER', ['source']],
    ['sensorgate_readings_rejected_total', 'COUNTER', ['source', 'reason']],
    ['sensorgate_readings_sent_total', 'COUNTER', []],
    ['sensorgate_readings_dropped_total', 'COUNTER', ['reason']],
    ['sensorgate_buffer_depth', 'GAUGE', []],
    ['sensorgate_buffer_bytes', 'GAUGE', []],
    ['sensorgate_buffer_oldest_age_seconds', 'GAUGE', []],
    ['sensorgate_uplink_connected', 'GAUGE', []],
    ['sensorgate_uplink_produce_seconds', 'HISTOGRAM', []],
  ];
  for (const [name, type, labels] of expect) {
    const f = byName.get(name);
    assert.ok(f, `${name} is exported`);
    assert.equal(f.type, type, name);
    for (const m of f.metrics)
      assert.deepEqual(
        Object.keys(m.labels ?? {})
          .filter((l) => l !== 'le')
          .sort(),
        [...labels].sort(),
        `${name} labels`,
      );
  }
  assert.deepEqual(byName.get('sensorgate_readings_rejected_total')!.metrics[0]!.labels, {
    source: 'plant',
    reason: 'bad_checksum',
  });
  // Counters with known label values exist from the start, at 0 until something happens.
  const dropped = Object.fromEntries(
    byName.get('sensorgate_readings_dropped_total')!.metrics.map((m) => [m.labels!.reason, m.value]),
  );
  assert.deepEqual(dropped, { drop_oldest: '2', reject_new: '0', disk_full: '0', corrupt: '0' });
  assert.equal(byName.get('sensorgate_buffer_salvaged_total')!.metrics[0]!.value, '0');
  assert.deepEqual(byName.get('sensorgate_build_info')!.metrics[0]!.labels, { version: '9.9.9' });
  const lastReading = Number(byName.get('sensorgate_source_last_reading_timestamp_seconds')!.metrics[0]!.value);
  assert.ok(Math.abs(lastReading - Date.now() / 1000) < 60, 'last reading time per source, in seconds');
  for (const name of [
    'process_resident_memory_bytes',
    'process_cpu_seconds_total',
    'nodejs_heap_size_used_bytes',
    'nodejs_eventloop_lag_seconds',
  ])
    assert.ok(byName.has(name), `${name} (process defaults)`);
  assert.equal(byName.get('sensorgate_uplink_connected')!.metrics[0]!.value, '1');
  const produce = byName.get('sensorgate_uplink_produce_seconds')!.metrics[0]!;
  assert.equal(produce.count, '1');
  assert.equal(produce.buckets!['0.05'], '1');
  assert.equal(produce.buckets!['0.025'], '0');
});

test('local endpoint: /api/status, the page with a strict CSP and no inline script, /healthz', async () => {
  const { status } = setup();
  const { base } = await serve(status);
  const api = await fetch(`${base}/api/status`);
  assert.equal(api.status, 200);
  assert.equal(((await api.json()) as { gateway: string }).gateway, 'gw-status');
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  const page = await fetch(`${base}/`);
  const csp = page.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.match(csp, /default-src 'none'/);
  const html = await page.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script is an external file');
  assert.doesNotMatch(html, /\son[a-z]+=|style=/, 'no inline handlers or styles');
  for (const asset of [
    '/assets/app.js',
    '/assets/grid.js',
    '/assets/app.css',
    '/assets/uPlot.iife.min.js',
    '/assets/uPlot.min.css',
  ]) {
    const r = await fetch(`${base}${asset}`);
    assert.equal(r.status, 200, asset);
    assert.ok((await r.text()).length > 100, asset);
  }
  assert.equal((await fetch(`${base}/assets/..%2f..%2fstatus.js`)).status, 404, 'only named assets are served');
  // A path asked for before its file exists is not remembered as missing: unknown paths, which
  // anyone can make up by the million, take no memory.
  const probe = join(dirname(fileURLToPath(import.meta.url)), '../web/browser/cache-probe.js');
  try {
    assert.equal((await fetch(`${base}/assets/cache-probe.js`)).status, 404);
    writeFileSync(probe, `// ${'x'.repeat(200)}`);
    assert.equal((await fetch(`${base}/assets/cache-probe.js`)).status, 200);
  } finally {
    rmSync(probe, { force: true });
  }
  const history = (await (await fetch(`${base}/api/history?gateway=gw-status`)).json()) as {
    ts: number[];
    depth: number[];
  };
  assert.ok(history.ts.length >= 1 && history.depth.length === history.ts.length);
});

test('local endpoint guard: token as Bearer or Basic, /healthz open, no writes, loopback Host only without a token', async () => {
  const open = await serve(setup().status);
  assert.equal((await get(open.port, '/api/status', { host: `localhost:${open.port}` })).status, 200);
  const rebound = await get(open.port, '/api/status', { host: 'attacker.example' });
  assert.equal(rebound.status, 403, 'a DNS-rebound page is refused');
  assert.equal((await get(open.port, '/api/status', {}, 'POST')).status, 405);
  assert.ok((await get(open.port, 'http://[')).status >= 400, 'a malformed request target is refused');
  assert.equal((await get(open.port, '/healthz')).status, 200, 'and the server lives on');

  const guarded = await serve(setup().status, TOKEN);
  const none = await get(guarded.port, '/api/status');
  assert.equal(none.status, 401);
  assert.match(String(none.headers['www-authenticate']), /^Basic realm="sensorgate"/);
  assert.equal((await get(guarded.port, '/metrics', { authorization: 'Bearer wrong-token-0123456789' })).status, 401);
  assert.equal((await get(guarded.port, '/metrics', { authorization: `Bearer ${TOKEN}` })).status, 200);
  const basic = Buffer.from(`operator:${TOKEN}`).toString('base64');
  assert.equal(
    (await get(guarded.port, '/', { authorization: `Basic ${basic}`, host: 'pi07.factory.example' })).status,
    200,
  );
  assert.equal((await get(guarded.port, '/api/events', {}, 'GET')).status, 401);
  assert.equal((await get(guarded.port, '/healthz')).status, 200, 'probes need no token');
  assert.equal((await get(guarded.port, '/api/status', { authorization: `Bearer ${TOKEN}` }, 'DELETE')).status, 405);
});

test('probes without a token: /readyz and /healthz answer a loopback Host only, so the problems cannot be read by DNS rebinding', async () => {
  const { status } = setup();
  status.addSource('plant', 'mqtt');
  status.sourceState('plant', 'down', 'mqtt://plc-user@10.20.0.7:1883: Not authorized');
  const { port } = await serve(status);
  for (const path of ['/readyz', '/healthz']) {
    const rebound = await get(port, path, { host: `attacker.example:${port}` });
    assert.equal(rebound.status, 403, `${path} for a foreign Host`);
    assert.doesNotMatch(rebound.body, /plc-user|source_down/);
  }
  const local = await get(port, '/readyz', { host: `localhost:${port}` });
  assert.equal(local.status, 503);
  assert.equal(JSON.parse(local.body).problems[0].code, 'source_down');
  assert.equal((await get(port, '/healthz', { host: `127.0.0.1:${port}` })).status, 200);
  assert.equal((await get(port, '/readyz', { host: `[::1]:${port}` })).status, 503);
});

test('config: status.heartbeatIntervalMs and status.authToken; a token is required beyond loopback', () => {
  const base = {
    gateway: { id: 'gw' },
    kafka: { brokers: ['127.0.0.1:9092'] },
    sources: [{ id: 's', driver: 'mqtt', url: 'mqtt://127.0.0.1:1883', topics: ['a/#'] }],
  };
  const c = validateConfig(base);
  assert.equal(c.status.heartbeatIntervalMs, 10_000);
  assert.equal(c.status.authToken, undefined);
  const problems = (status: unknown) => {
    try {
      validateConfig({ ...base, status });
      return [];
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
  };
  assert.deepEqual(problems({ listen: '0.0.0.0:8081' }), [
    'status.authToken: listening on 0.0.0.0 (beyond loopback) requires an auth token',
  ]);
  assert.deepEqual(problems({ listen: '0.0.0.0:8081', authToken: 'short' }), [
    'status.authToken: the auth token must be at least 16 characters (e.g. `openssl rand -hex 16`)',
  ]);
  assert.deepEqual(problems({ listen: '0.0.0.0:8081', authToken: TOKEN }), []);
  assert.deepEqual(problems({ listen: '[::1]:8081' }), []);
  assert.deepEqual(problems({ heartbeatIntervalMs: 10 }), [
    'status.heartbeatIntervalMs: expected at least 250, found the number 10',
  ]);
});

test('problems: stalled makes the uplink not connected; down clears stalled; clock and fill level are derived', () => {
  const { status, buffer } = setup();
  status.uplinkState(true);
  status.uplinkStalled('nothing acknowledged for 21 s');
  let s = status.snapshot();
  assert.equal(s.uplink.connected, false, 'stalled is not connected');
  assert.deepEqual(
    s.problems.map((p) => p.code),
    ['uplink_stalled'],
  );
  status.uplinkState(false, 'send: timed out');
  s = status.snapshot();
  assert.deepEqual(
    s.problems.map((p) => p.code),
    ['uplink_down'],
    'down replaces stalled',
  );
  status.uplinkState(true);
  status.uplinkStalled(null);
  assert.equal(status.snapshot().uplink.connected, true);
  assert.deepEqual(status.snapshot().problems, []);

  status.refresh();
  assert.ok(status.hasProblem('clock_unsynced'), 'this test clock is not synchronised');
  const small = new Status('gw-full', '1', { bootId: 'b', synced: () => true }, () => buffer.stats(), {
    bufferMaxBytes: 1000,
  });
  small.refresh();
  assert.equal(small.hasProblem('buffer_near_full'), false, 'empty buffer');
  // A reading that does not compress: about 880 bytes stored.
  const pad = randomBytes(850).toString('base64');
  buffer.append([{ key: 'k', ts: Date.now(), encode: (seq) => JSON.stringify({ seq, pad }) }], []);
  small.refresh();
  const { bytes } = buffer.stats();
  assert.ok(bytes > 800 && bytes < 1000, `${bytes} bytes`);
  assert.equal(small.hasProblem('buffer_near_full'), true, `${bytes} of 1000 bytes`);
  assert.equal(small.hasProblem('clock_unsynced'), false);
});

test('/readyz: 503 with the problems until a source is up, then 200', async () => {
  const { status } = setup();
  status.addSource('plant', 'mqtt');
  status.sourceState('plant', 'down', 'connection refused');
  const { port } = await serve(status, TOKEN);
  const down = await get(port, '/readyz');
  assert.equal(down.status, 503, 'no auth needed, and not ready');
  const body = JSON.parse(down.body);
  assert.equal(body.ready, false);
  assert.deepEqual(
    body.problems.map((p: { code: string }) => p.code),
    ['source_down'],
  );
  status.sourceState('plant', 'up');
  const up = await get(port, '/readyz');
  assert.equal(up.status, 200);
  assert.deepEqual(JSON.parse(up.body), { ready: true, problems: [] });
  status.problem('disk_full', 'no space left on device');
  assert.equal((await get(port, '/readyz')).status, 503, 'a full disk cannot take readings in');
});

test('150 sources down: the status lists 99 problems and one more_problems counting the rest, and readers accept it', async () => {
  const { status } = setup();
  const N = 150;
  for (let i = 0; i < N; i++) status.addSource(`meter-${i}`, 'modbus');
  for (let i = 0; i < N; i++) status.sourceState(`meter-${i}`, 'down', 'tcp 10.0.0.9:502: connect ETIMEDOUT');
  status.uplinkState(false, 'connect ECONNREFUSED'); // raised last, listed first: gateway-wide problems are never cut
  const doc = status.snapshot();
  assert.equal(doc.problems.length, MAX_PROBLEMS);
  assert.equal(doc.problems[0]!.code, 'uplink_down');
  assert.equal(doc.problems.filter((p) => p.code === 'source_down').length, 98);
  assert.deepEqual(doc.problems.at(-1)!, {
    code: 'more_problems',
    detail: '52 more problems not listed: 52 source_down',
    since: doc.problems.at(-1)!.since,
  });
  assert.equal(statusSchema.safeParse(doc).success, true, 'valid to the readers');
  const rec = parseStatusRecord(Buffer.from('gw-status'), Buffer.from(JSON.stringify(doc)));
  assert.equal(rec.kind, 'status', 'the fleet takes it');
  const { base } = await serve(status);
  const api = (await (await fetch(`${base}/api/status`)).json()) as GatewayStatus;
  assert.deepEqual(
    api.problems.map((p) => p.code),
    doc.problems.map((p) => p.code),
    '/api/status lists the same',
  );
});
