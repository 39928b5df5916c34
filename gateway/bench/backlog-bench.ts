/**
 * Backlog: Kafka is down while a large backlog arrives over MQTT; then Kafka comes back and live
 * readings keep arriving while the gateway drains the backlog. Run once per kafka.drain mode,
 * each with a fresh gateway on the bench's own broker (stopped and started again, same data and port).
 *
 * Live readings carry the metric `live` (the backlog's carry `temp`), so a read of the topic tells
 * them apart: their latency is publish time (`ts`) -> Kafka log-append time. Every record carries
 * its sensor and seq, so the same read tells whether each sensor's readings reached Kafka in order.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import { type Percentiles, percentiles, publishedAt, scanTopic } from './latency.js';
import { type Bench, type Bridge, launchGateway, startPublisher, untilInKafka } from './pipelines.js';
import { note } from './progress.js';
import { METRIC } from './workload.js';

export type DrainMode = Config['kafka']['drain'];

export interface BacklogRun {
  drain: DrainMode;
  backlog: number;
  liveRate: number;
  /** Seconds to take the backlog in (publish -> every reading durable in the buffer) with Kafka down. */
  ingestSeconds: number;
  /** From Kafka answering again until the gateway's first send. */
  reconnectSeconds: number;
  /** From the first send until the buffer depth was back at live level (at most one second of live readings). */
  drainSeconds: number;
  /** Readings sent to Kafka per second over the drain (backlog and live). */
  drainRate: number;
  /** Live readings published from Kafka's return until the drain ended. */
  live: number;
  /** Publish -> Kafka append latency of the live readings published during the drain (from the gateway's first send on). */
  liveLatencyMs?: Percentiles;
  /**
   * The same for live readings published while Kafka was back but the gateway had not yet sent
   * anything (its reconnect delay): they were in the buffer when the drain began.
   */
  liveBeforeFirstSendMs?: Percentiles;
  /**
   * Records in Kafka whose seq is lower than that of an earlier record of the same sensor (live-first:
   * of the same sensor and kind, live or backlog, as live readings are meant to overtake the backlog);
   * and repeated seqs.
   */
  outOfOrder: number;
  duplicates: number;
  /** Largest buffer.sqlite-wal seen, sampled every second from the outage until all was in Kafka. */
  maxWalBytes: number;
  maxBufferDepth: number;
  /** Buffer depth and sent count every ~250 ms from Kafka's return, s since then. */
  samples: Array<{ t: number; depth: number; sent: number }>;
}

export interface BacklogBenchResult {
  runs: BacklogRun[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The drain is over once the buffer holds no more than this many seconds of live readings. */
const LIVE_LEVEL_SECONDS = 1;
/** A drain that sends nothing for this long has failed. */
const STALL_MS = 60_000;
/** Live readings the publisher is given: far more than a drain takes; it is stopped when the drain ends. */
const LIVE_MAX_SECONDS = 3600;
const LIVE_METRIC = 'live';

/** Sample a file's size every second; max() is the largest size seen (0 while it does not exist). */
function sizeSampler(file: string) {
  let max = 0;
  const timer = setInterval(() => {
    stat(file).then(
      (s) => {
        max = Math.max(max, s.size);
      },
      () => undefined,
    );
  }, 1000);
  return {
    max: () => max,
    stop: () => clearInterval(timer),
  };
}

async function gauge(bridge: Bridge, name: string): Promise<number> {
  return (await bridge.metrics!()).get(name) ?? 0;
}

export async function benchBacklog(
  b: Bench,
  o: { backlog: number; liveRate: number; modes: DrainMode[] },
): Promise<BacklogBenchResult> {
  const outage = b.kafka.outage;
  if (!outage)
    throw new Error("the backlog phase stops and starts Kafka: it needs the bench's own broker, not $KAFKA_BROKERS");
  const runs: BacklogRun[] = [];
  for (const drain of o.modes) {
    const gw = await launchGateway(b, `backlog-${drain}`, { drain });
    try {
      runs.push(await backlogRun(b, gw, outage, drain, o.backlog, o.liveRate));
    } finally {
      await gw.stop();
    }
    const r = runs[runs.length - 1]!;
    note(
      `${drain}: drained at ${Math.round(r.drainRate).toLocaleString('en-US')} readings/s, live p99 ${r.liveLatencyMs?.p99 ?? '-'} ms, max WAL ${(r.maxWalBytes / 2 ** 20).toFixed(1)} MiB, ${r.outOfOrder} out of order`,
    );
  }
  return { runs };
}

async function backlogRun(
  b: Bench,
  gw: Bridge,
  outage: NonNullable<Bench['kafka']['outage']>,
  drain: DrainMode,
  backlog: number,
  liveRate: number,
): Promise<BacklogRun> {
  const wal = sizeSampler(join(gw.dataDir!, 'buffer.sqlite-wal'));
  try {
    note(`${drain}: stopping Kafka`);
    await outage.down();
    const ingested0 = await gauge(gw, 'sensorgate_readings_ingested_total');
    const backlogPublisher = startPublisher(b, { prefix: gw.prefix, count: backlog, rate: 0 });
    const t0 = Number((await backlogPublisher.next('start', 30_000)).t);
    await untilIngested(gw, ingested0 + backlog, `${drain}: backlog into the buffer, Kafka down`);
    const ingestSeconds = (Date.now() - t0) / 1000;
    await backlogPublisher.next('done', 30_000);
    const sent0 = await gauge(gw, 'sensorgate_readings_sent_total');

    note(`${drain}: starting Kafka, live readings at ${liveRate}/s`);
    await outage.up();
    const up = Date.now();
    const livePublisher = startPublisher(b, {
      prefix: gw.prefix,
      count: liveRate * LIVE_MAX_SECONDS,
      rate: liveRate,
      metric: LIVE_METRIC,
    });
    await livePublisher.next('start', 30_000);
    const samples: BacklogRun['samples'] = [];
    let firstSend: number | undefined;
    let drained: number | undefined;
    let lastSent = sent0;
    let lastMove = Date.now();
    while (drained === undefined) {
      await sleep(250);
      const m = await gw.metrics!();
      const now = Date.now();
      const sent = m.get('sensorgate_readings_sent_total') ?? 0;
      const depth = m.get('sensorgate_buffer_depth') ?? 0;
      samples.push({ t: (now - up) / 1000, depth, sent: sent - sent0 });
      if (sent > lastSent) {
        firstSend ??= now;
        lastSent = sent;
        lastMove = now;
      }
      if (firstSend !== undefined && depth <= liveRate * LIVE_LEVEL_SECONDS) drained = now;
      if (now - lastMove > STALL_MS)
        throw new Error(`${drain}: nothing sent for ${STALL_MS / 1000} s, buffer depth ${depth}`);
    }
    livePublisher.child.kill('SIGTERM');
    const live = Number((await livePublisher.next('done', 30_000)).sent);
    const drainSeconds = (drained - firstSend!) / 1000;
    const drainRate = (lastSent - sent0) / drainSeconds;
    await untilInKafka(gw, 0, backlog + live, `${drain}: the rest into Kafka`);
    const read = await readBack(b, gw.topic, drain, firstSend!);
    const liveRead = read.liveLatencies.length + read.liveBeforeFirstSend.length;
    if (read.backlog < backlog || liveRead < live)
      throw new Error(
        `${drain}: read back ${read.backlog} of ${backlog} backlog and ${liveRead} of ${live} live readings from ${gw.topic}`,
      );
    return {
      drain,
      backlog,
      liveRate,
      ingestSeconds,
      reconnectSeconds: (firstSend! - up) / 1000,
      drainSeconds,
      drainRate,
      live,
      liveLatencyMs: percentiles(read.liveLatencies),
      liveBeforeFirstSendMs: percentiles(read.liveBeforeFirstSend),
      outOfOrder: read.outOfOrder,
      duplicates: read.duplicates,
      maxWalBytes: wal.max(),
      maxBufferDepth: Math.max(0, ...samples.map((s) => s.depth)),
      samples,
    };
  } finally {
    wal.stop();
    // Whatever happened, the next phase needs Kafka.
    await outage.up();
  }
}

/** Until the gateway has taken `total` readings into its buffer; fails on a stall. */
async function untilIngested(gw: Bridge, total: number, label: string): Promise<void> {
  let last = -1;
  let lastMove = Date.now();
  for (;;) {
    const n = await gauge(gw, 'sensorgate_readings_ingested_total');
    if (n >= total) return;
    if (n !== last) {
      last = n;
      lastMove = Date.now();
    }
    if (Date.now() - lastMove > STALL_MS) throw new Error(`${label}: stuck at ${n} readings ingested`);
    await sleep(250);
  }
}

/** One pass over the topic: live readings' latency (published before or from `firstSend`), and each sensor's seqs in Kafka order. */
async function readBack(b: Bench, topic: string, drain: DrainMode, firstSend: number) {
  const liveLatencies: number[] = [];
  const liveBeforeFirstSend: number[] = [];
  const lastSeq = new Map<string, number>();
  const seen = new Set<number>();
  let backlog = 0;
  let outOfOrder = 0;
  let duplicates = 0;
  await scanTopic(b.kafka.brokers, topic, (appended, value) => {
    const r = JSON.parse(value) as { sensor: string; metric: string; seq: number };
    if (r.metric === LIVE_METRIC) {
      const ts = publishedAt(value);
      (ts < firstSend ? liveBeforeFirstSend : liveLatencies).push(appended - ts);
    } else if (r.metric === METRIC) backlog++;
    if (seen.has(r.seq)) duplicates++;
    seen.add(r.seq);
    const stream = drain === 'in-order' ? r.sensor : `${r.sensor} ${r.metric}`;
    const last = lastSeq.get(stream);
    if (last !== undefined && r.seq < last) outOfOrder++;
    else lastSeq.set(stream, r.seq);
  });
  return { liveLatencies, liveBeforeFirstSend, backlog, outOfOrder, duplicates };
}
