/// <reference lib="dom" />
// (for the page.evaluate callbacks, which run in Chromium)
/**
 * Fleet page bench (docs/status.md): N synthetic gateways (default 500) on a status topic, a
 * real `sensorgate fleet` process reading it, statuses arriving all along as from a live fleet
 * (each gateway every 10 s), and:
 *   - /api/gateways: latency of sequential requests (target: p95 under 200 ms at 500 gateways);
 *   - the page in headless Chromium (when playwright-core and /usr/bin/chromium are there): time
 *     until every row shows, then long tasks (> 50 ms) and frames per second over 10 s of updates.
 *
 *   node dist/gateway/bench/fleet-bench.js [--gateways 500] [--requests 200] [--no-page]
 * Uses $KAFKA_BROKERS when set, else starts a local broker. `benchFleet()` is for bench/run.ts.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { freePort } from '../../deploy/net.js';
import { STATUS_HEADERS } from '../status/kafka-status-publisher.js';
import type { GatewayStatus } from '../status/status-document.js';
import { Partitioners, type Producer } from '../uplink/kafkajs.js';
import { CHROMIUM, launchChromium } from './headless-chromium.js';
import { benchKafka, startBenchKafka } from './peers.js';
import { note, phase } from './progress.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const LIVE_INTERVAL_MS = 10_000;

export interface FleetBenchOptions {
  gateways?: number;
  requests?: number;
  page?: boolean;
}

export interface FleetBenchResult {
  gateways: number;
  /** Statuses per second produced while measuring (the live fleet). */
  statusesPerS: number;
  api: {
    requests: number;
    bytes: number;
    p50Ms: number;
    p95Ms: number;
    maxMs: number;
    targetP95Ms: number;
    met: boolean;
  };
  page?:
    | { shownMs: number; observedS: number; longTasks: number; longestTaskMs: number; framesPerS: number }
    | { skipped: string };
}

/** A plausible status of gateway `i`: a few sources, some buffering, a failing one now and then. */
export function syntheticStatus(i: number, now = Date.now()): GatewayStatus {
  const id = `site${String(Math.floor(i / 20)).padStart(2, '0')}-pi${String(i % 20).padStart(2, '0')}`;
  const down = i % 37 === 0;
  const depth = down ? 1000 + i * 10 : i % 5;
  const sources = Array.from({ length: 2 + (i % 4) }, (_, k) => ({
    id: ['plant-mqtt', 'press-line', 'door', 'flow-meter', 'vibration'][k]!,
    driver: ['mqtt', 'serial', 'gpio', 'gpio', 'modbus'][k]!,
    state: (i % 53 === 0 && k === 1 ? 'down' : 'up') as 'up' | 'down',
    lastReadingTs: now - 800,
    readings: 100_000 + i * 7 + k,
    rejected: k === 1 ? i % 4 : 0,
    rejectedByReason: (k === 1 && i % 4 ? { bad_checksum: i % 4 } : {}) as Record<string, number>,
    ratePerS: 2 + k,
  }));
  return {
    gateway: id,
    version: '0.1.0',
    ts: now,
    uptimeS: 86_400 + i,
    bootId: `boot-${i}`,
    clockSynced: true,
    running: true,
    heartbeatIntervalMs: LIVE_INTERVAL_MS,
    buffer: {
      depth,
      bytes: depth * 180,
      oldestTs: depth ? now - depth * 100 : null,
      oldestAgeS: depth ? depth / 10 : null,
      drainEtaS: down ? null : depth / 5,
      nextSeq: 1_000_000 + i,
      seqReserved: 1_010_000 + i,
    },
    uplink: {
      connected: !down,
      sinceTs: now - 3_600_000,
      lastAckTs: down ? now - 600_000 : now - 500,
      lastError: down ? 'connect ETIMEDOUT 10.0.0.1:9092' : null,
      lastErrorTs: down ? now - 1000 : null,
      sent: 990_000 + i,
      dropped: {},
    },
    rates: { ingestPerS: down ? 9 : 10 + (i % 7), sendPerS: down ? 0 : 10 + (i % 7) },
    sources,
    problems: down ? [{ code: 'uplink_down', detail: 'connect ETIMEDOUT 10.0.0.1:9092', since: now - 600_000 }] : [],
    host: {
      hostname: id,
      arch: 'arm64',
      diskFreeBytes: 20e9,
      diskTotalBytes: 32e9,
      rssBytes: 48e6,
      memFreeBytes: 2e9,
      memTotalBytes: 4e9,
      cpuTempC: 48 + (i % 20),
      load: [0.4, 0.3, 0.2],
    },
  };
}

async function publishAll(producer: Producer, topic: string, from: number, to: number): Promise<void> {
  const messages = [];
  for (let i = from; i < to; i++) {
    const s = syntheticStatus(i);
    messages.push({ key: s.gateway, value: JSON.stringify(s), headers: STATUS_HEADERS });
  }
  if (messages.length) await producer.send({ topic, acks: -1, messages });
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const round = (n: number) => Math.round(n * 10) / 10;

export async function benchFleet(brokers: string[], o: FleetBenchOptions = {}): Promise<FleetBenchResult> {
  const n = o.gateways ?? 500;
  const topic = `bench.fleet.status.${Date.now().toString(36)}`;
  const kafka = benchKafka(brokers, 'fleet-bench');
  const producer = kafka.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [CLI, 'fleet', '--brokers', brokers.join(','), '--port', String(port), '--topic', topic, '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const base = `http://127.0.0.1:${port}`;
  let live: NodeJS.Timeout | undefined;
  try {
    // The fleet server creates the topic (compacted); wait for it to listen before producing.
    await until(
      'the fleet server to listen',
      async () => (await fetch(`${base}/healthz`).catch(() => undefined)) !== undefined,
    );
    await until('the status topic', async () => (await fetch(`${base}/healthz`)).status === 200);
    phase(`fleet bench: ${n} gateways`);
    for (let i = 0; i < n; i += 100) await publishAll(producer, topic, i, Math.min(n, i + 100));
    await until(
      `${n} gateways on /api/gateways`,
      async () => ((await (await fetch(`${base}/api/gateways`)).json()) as unknown[]).length === n,
    );

    // A live fleet from now on: every gateway every 10 s, in slices every 100 ms.
    let next = 0;
    const perTick = Math.max(1, Math.round(n / (LIVE_INTERVAL_MS / 100)));
    live = setInterval(() => {
      const from = next;
      next = (next + perTick) % n;
      void publishAll(producer, topic, from, Math.min(n, from + perTick)).catch(() => undefined);
    }, 100);

    const requests = o.requests ?? 200;
    const times: number[] = [];
    let bytes = 0;
    for (let r = 0; r < requests + 10; r++) {
      const t = performance.now();
      const body = await (await fetch(`${base}/api/gateways`)).arrayBuffer();
      if (r >= 10) times.push(performance.now() - t); // the first ten warm up
      bytes = body.byteLength;
    }
    times.sort((a, b) => a - b);
    const api = {
      requests,
      bytes,
      p50Ms: round(percentile(times, 50)),
      p95Ms: round(percentile(times, 95)),
      maxMs: round(times.at(-1)!),
      targetP95Ms: 200,
      met: percentile(times, 95) < 200,
    };
    note(
      `/api/gateways with ${n} gateways (${Math.round(bytes / 1024)} KiB): p50 ${api.p50Ms} ms, p95 ${api.p95Ms} ms, max ${api.maxMs} ms`,
    );
    const page = o.page === false ? { skipped: 'disabled' } : await benchPage(base, n);
    if ('skipped' in page) note(`page: skipped (${page.skipped})`);
    else
      note(
        `page: all ${n} gateways known, first page shown after ${page.shownMs} ms; over ${page.observedS} s of updates ${page.longTasks} long tasks (longest ${page.longestTaskMs} ms), ${page.framesPerS} frames/s`,
      );
    return { gateways: n, statusesPerS: round((perTick * 1000) / 100), api, page };
  } finally {
    clearInterval(live);
    child.kill('SIGTERM');
    await producer.disconnect();
    // On someone else's broker ($KAFKA_BROKERS) leave nothing behind.
    const admin = kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteTopics({ topics: [topic] }))
      .catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}

async function benchPage(base: string, n: number): Promise<NonNullable<FleetBenchResult['page']>> {
  if (!existsSync(CHROMIUM)) return { skipped: `no Chromium at ${CHROMIUM}` };
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  try {
    browser = await launchChromium();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    return { skipped: 'playwright-core is not installed (a devDependency)' };
  }
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    // Injected by the browser itself, not by the page (the page's CSP allows no inline script).
    await page.addInitScript(() => {
      const w = window as unknown as { __long: number[]; __frames: number };
      w.__long = [];
      w.__frames = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.__long.push(e.duration);
      }).observe({ type: 'longtask', buffered: true });
      const frame = () => {
        w.__frames++;
        requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);
    });
    const t = performance.now();
    await page.goto(base);
    // The grid shows one page of rows; the count line says when the page knows every gateway.
    await page.waitForFunction(
      (count) =>
        document.querySelectorAll('#rows tr').length > 0 &&
        document.getElementById('shown')?.textContent === `${count} gateways`,
      n,
      { timeout: 60_000 },
    );
    const shownMs = Math.round(performance.now() - t);
    await page.evaluate(() => {
      const w = window as unknown as { __long: number[]; __frames: number };
      w.__long = [];
      w.__frames = 0;
    });
    const observedS = 10;
    await new Promise((r) => setTimeout(r, observedS * 1000));
    const { long, frames } = await page.evaluate(() => {
      const w = window as unknown as { __long: number[]; __frames: number };
      return { long: w.__long, frames: w.__frames };
    });
    return {
      shownMs,
      observedS,
      longTasks: long.length,
      longestTaskMs: Math.round(Math.max(0, ...long)),
      framesPerS: Math.round(frames / observedS),
    };
  } finally {
    await browser.close();
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`fleet bench: timed out waiting for ${what}`);
}

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number, 1 or more');
  return n;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const opts = new Command('node dist/gateway/bench/fleet-bench.js')
    .description('the fleet server under many gateways (docs/bench.md)')
    .option('--gateways <n>', 'simulated gateways', positive, 500)
    .option('--requests <n>', 'API requests timed', positive, 200)
    .option('--no-page', 'skip rendering the page in Chromium')
    .parse()
    .opts<{ gateways: number; requests: number; page: boolean }>();
  const kafka = await startBenchKafka((m) => note(m));
  try {
    const result = await benchFleet(kafka.brokers, {
      gateways: opts.gateways,
      requests: opts.requests,
      page: opts.page,
    });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await kafka.stop();
  }
}
