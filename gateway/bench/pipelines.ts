/**
 * MQTT -> Kafka pipelines under measurement: the real gateway process (`sensorgate run`) and the
 * naive bridge, fed by the same publisher process on the same mosquitto, writing to fresh topics
 * on the same Kafka broker. A pipeline's time runs from the first publish until Kafka holds every
 * reading (the topic's end offsets, or what the gateway counts as acknowledged: see
 * launchGateway), so nothing still queued anywhere is counted as done.
 */

import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort } from '../../deploy/net.js';
import { CLI_PATH, cliNodeFlags } from '../cli/cli-path.js';
import { type Config, validateConfig } from '../config/config.js';
import { type FsyncCount, type FsyncTrace, traceFsyncs } from './fsyncs.js';
import { kafkaLatencies, type Percentiles } from './latency.js';
import type { NaiveBridgeOptions } from './naive-bridge.js';
import { type BenchKafka, type BenchMosquitto, type KafkaProbe, prepareSession } from './peers.js';
import {
  ChildEvents,
  cpuSeconds,
  expectSuccess,
  type Memory,
  memory,
  memoryOf,
  spawnTracked,
  stopChild,
  writeBytes,
} from './proc.js';
import { counter, note } from './progress.js';
import type { PublisherOptions } from './publisher.js';
import { METRIC, WARMUP_METRIC } from './workload.js';

export interface Bench {
  /** Part of every topic, MQTT client id and topic prefix, so that runs never share them (a $KAFKA_BROKERS broker outlives runs). */
  runId: string;
  workDir: string;
  kafka: BenchKafka;
  mosquitto: BenchMosquitto;
  probe: KafkaProbe;
}

export interface PipelineResult {
  name: string;
  readings: number;
  /** Epoch ms of the first publish and of the moment all readings were in Kafka (or the tool exited). */
  startedAt: number;
  endedAt: number;
  seconds: number;
  readingsPerSecond: number;
  /** CPU (user + system) of the pipeline's own process per million readings. */
  cpuSecondsPerMillion?: number;
  /** mosquitto's CPU per million readings during the run. */
  mosquittoCpuSecondsPerMillion?: number;
  /** The publisher process's CPU per million readings. */
  publisherCpuSecondsPerMillion?: number;
  /** VmHWM of the pipeline's process at the end of the run. */
  peakRssBytes?: number;
  rssBytes?: number;
  rssAnonBytes?: number;
  /** Publish (payload ts) to Kafka log-append time, in ms. */
  latencyMs?: Percentiles;
  /** Buffer transactions during the run (the gateway's sensorgate_buffer_commits_total, when it has it). */
  commits?: number;
  /** The gateway's own view, from its /metrics: when all readings were durable in its buffer, how deep the buffer got. */
  gateway?: GatewayTimeline;
}

export interface GatewayTimeline {
  /** Seconds from the first publish until every reading was in the buffer (PUBACK sent). */
  durableAfterS: number | null;
  maxBufferDepth: number;
  /** ingested / sent counts since the first publish, every ~250 ms. */
  samples: Array<{ t: number; ingested: number; sent: number; depth: number }>;
}

/**
 * A running MQTT -> Kafka process, reading `<prefix>/#` and writing `topic`; or the bare MQTT
 * subscriber, the floor under them, which writes nothing (its topic is '').
 */
export interface Bridge {
  name: string;
  child: ChildProcess;
  prefix: string;
  topic: string;
  /** Readings of this bridge that Kafka holds so far (the topic is fresh); the bare subscriber's: received. */
  inKafka(): Promise<number>;
  /** Its records are written in transactions: read them as exactly-once consumers do (read_committed). */
  transactional?: boolean;
  /** The gateway's Kafka settings, if it is the gateway. */
  kafka?: Config['kafka'];
  /** The gateway's data dir, if it is the gateway. */
  dataDir?: string;
  /** The gateway's counters, if it is the gateway. */
  metrics?: () => Promise<Map<string, number>>;
  /** QoS its readings are published with (default 1). */
  publishQos?: 1 | 2;
  stop(): Promise<void>;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const WARMUP_READINGS = 2000;
/** A pipeline that makes no progress for this long has failed. */
const STALL_MS = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function names(b: Bench, name: string): { prefix: string; topic: string } {
  return { prefix: `bench/${b.runId}/${name}`, topic: `bench.${b.runId}.${name}` };
}

export interface GatewayOptions {
  /** kafka.delivery; the gateway's default (at-least-once) when not given. */
  delivery?: Config['kafka']['delivery'];
  /** kafka.client; the gateway's default (kafkajs) when not given. */
  client?: Config['kafka']['client'];
  /** The MQTT source's subscription QoS (the gateway's default when not given) and the QoS readings are published with (default 1). */
  qos?: { subscribe?: 1 | 2; publish?: 1 | 2 };
  /**
   * When a reading counts as in Kafka: at the topic's end offsets (default), or when the gateway
   * counts it acknowledged (sensorgate_readings_sent_total, raised after Kafka's ack, under
   * exactly-once after the transaction's commit). Exactly-once needs the latter: its end offsets
   * also count the commit markers, one per partition per transaction.
   */
  countBy?: 'end-offsets' | 'gateway';
  /** kafka.drain; the gateway's default (in-order) when not given. */
  drain?: Config['kafka']['drain'];
  cpuProfDir?: string;
}

/** The real gateway, as users run it: `sensorgate run --config FILE` (with the shebang's Node flags). */
export async function launchGateway(b: Bench, name: string, opts: GatewayOptions = {}): Promise<Bridge> {
  const { prefix, topic } = names(b, name);
  // The run id keeps transactional ids (sensorgate-<gateway id>) apart when runs share a $KAFKA_BROKERS broker.
  const id = `bench-${b.runId}-${name}`;
  const statusTopic = `bench.${b.runId}.status`;
  const exactlyOnce = opts.delivery === 'exactly-once';
  const offsetsTopic = `${topic}.offsets`;
  const countBy = opts.countBy ?? (exactlyOnce ? 'gateway' : 'end-offsets');
  if (exactlyOnce && countBy === 'end-offsets')
    throw new Error(`gateway ${name}: exactly-once end offsets include commit markers; count by the gateway`);
  await b.probe.createTopic(topic);
  b.probe.adopt(statusTopic);
  if (exactlyOnce) b.probe.adopt(offsetsTopic);
  await prepareSession(b.mosquitto.url, id, [`${prefix}/#`], opts.qos?.subscribe);
  const listen = `127.0.0.1:${await freePort()}`;
  const cfg = validateConfig({
    gateway: { id, dataDir: join(b.workDir, name) },
    kafka: {
      brokers: b.kafka.brokers,
      topic,
      statusTopic,
      ...(opts.delivery && { delivery: opts.delivery }),
      ...(opts.client && { client: opts.client }),
      ...(opts.drain && { drain: opts.drain }),
      ...(exactlyOnce && { offsetsTopic }),
    },
    buffer: { synchronous: 'FULL' },
    status: { listen },
    log: { level: 'warn' },
    sources: [
      {
        id: 'mqtt',
        driver: 'mqtt',
        url: b.mosquitto.url,
        clientId: id,
        topics: [`${prefix}/#`],
        topicPattern: `${prefix}/{sensor}/{metric}`,
        ...(opts.qos?.subscribe && { qos: opts.qos.subscribe }),
      },
    ],
  });
  const configFile = join(b.workDir, `${name}.yaml`);
  await writeFile(configFile, stringify(cfg));
  const nodeArgs = opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : [];
  const child = spawnTracked(
    process.execPath,
    [...cliNodeFlags(), ...nodeArgs, CLI_PATH, 'run', '--config', configFile],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const log = createWriteStream(join(b.workDir, `${name}.log`));
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`gateway ${name} exited at start; see ${join(b.workDir, `${name}.log`)}`);
    const status = await fetch(`http://${listen}/api/status`).then(
      (r) => r.json() as Promise<{ uplink: { connected: boolean } }>,
      () => undefined,
    );
    if (status?.uplink.connected) break;
    if (Date.now() > deadline)
      throw new Error(`gateway ${name}: uplink not connected within 60 s; see ${join(b.workDir, `${name}.log`)}`);
    await sleep(200);
  }
  const metrics = async () => {
    const text = await (await fetch(`http://${listen}/metrics`)).text();
    return new Map([...text.matchAll(/^(sensorgate_\w+)(?:\{[^}]*\})? (\S+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
  };
  return {
    name,
    child,
    prefix,
    topic,
    dataDir: cfg.gateway.dataDir,
    metrics,
    transactional: exactlyOnce,
    kafka: cfg.kafka,
    publishQos: opts.qos?.publish,
    inKafka:
      countBy === 'gateway'
        ? async () => (await metrics()).get('sensorgate_readings_sent_total') ?? 0
        : () => b.probe.total(topic),
    stop: async () => {
      const { code, signal } = await stopChild(child, 20_000);
      if (code !== 0)
        note(`gateway ${name} stopped with ${signal ?? `exit code ${code}`}; see ${join(b.workDir, `${name}.log`)}`);
    },
  };
}

/** The floor: gateway/bench/naive-bridge.ts as its own process. */
export async function launchNaiveBridge(b: Bench, name: string): Promise<Bridge> {
  const { prefix, topic } = names(b, name);
  await b.probe.createTopic(topic);
  const opts: NaiveBridgeOptions = {
    mqttUrl: b.mosquitto.url,
    prefix,
    brokers: b.kafka.brokers,
    topic,
    gateway: `bench-${name}`,
  };
  const child = spawnTracked(process.execPath, [here('./naive-bridge.js'), JSON.stringify(opts)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new ChildEvents('naive bridge', child).next('ready', 60_000);
  return {
    name,
    child,
    prefix,
    topic,
    inKafka: () => b.probe.total(topic),
    stop: async () => {
      await stopChild(child, 10_000);
    },
  };
}

/** mqtt.js alone (gateway/bench/bare-subscriber.ts), with the gateway's Node flags: the floor under its steady figures. */
export async function launchBareSubscriber(b: Bench, name: string): Promise<Bridge> {
  const { prefix } = names(b, name);
  const child = spawnTracked(
    process.execPath,
    [...cliNodeFlags(), here('./bare-subscriber.js'), JSON.stringify({ url: b.mosquitto.url, prefix })],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const events = new ChildEvents('bare subscriber', child);
  await events.next('ready', 30_000);
  return {
    name,
    child,
    prefix,
    topic: '',
    inKafka: async () => Number(events.latest('count')?.n ?? 0),
    stop: async () => {
      await stopChild(child, 10_000);
    },
  };
}

export function startPublisher(b: Bench, o: Omit<PublisherOptions, 'url'>): ChildEvents {
  const opts: PublisherOptions = { url: b.mosquitto.url, ...o };
  const child = spawnTracked(process.execPath, [here('./publisher.js'), JSON.stringify(opts)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new ChildEvents('publisher', child);
}

/** Resolves when Kafka holds `total` of the bridge's readings; shows progress from `base`; fails on a stall. */
export async function untilInKafka(
  bridge: Bridge,
  base: number,
  total: number,
  label: string,
  onPoll?: () => unknown,
): Promise<void> {
  const bar = counter(label, total - base);
  let last = -1;
  let lastMove = Date.now();
  try {
    for (;;) {
      const n = await bridge.inKafka();
      bar.update(n - base);
      await onPoll?.();
      if (n >= total) return;
      if (n !== last) {
        last = n;
        lastMove = Date.now();
      }
      if (Date.now() - lastMove > STALL_MS)
        throw new Error(`${label}: stuck at ${n - base} of ${total - base} readings in Kafka for ${STALL_MS / 1000} s`);
      await sleep(50);
    }
  } finally {
    bar.stop();
  }
}

/** Process CPU and memory at the start of a run, and the figures every run reports at its end. */
function runMeter(b: Bench, pid: number) {
  const cpu0 = cpuSeconds(pid);
  const mosquittoCpu0 = cpuSeconds(b.mosquitto.pid);
  return {
    /** Call once all readings are in Kafka: throughput, CPU per million readings, memory. */
    finish(name: string, n: number, t0: number) {
      const t1 = Date.now();
      const seconds = (t1 - t0) / 1000;
      const mem = memory(pid);
      const perMillion = (cpu: number) => (cpu / n) * 1e6;
      return {
        mem,
        figures: {
          name,
          readings: n,
          startedAt: t0,
          endedAt: t1,
          seconds,
          readingsPerSecond: n / seconds,
          cpuSecondsPerMillion: perMillion(cpuSeconds(pid) - cpu0),
          mosquittoCpuSecondsPerMillion: perMillion(cpuSeconds(b.mosquitto.pid) - mosquittoCpu0),
          peakRssBytes: mem.peakRssBytes,
          rssBytes: mem.rssBytes,
          rssAnonBytes: mem.rssAnonBytes,
        },
      };
    },
  };
}

/**
 * Publish `n` readings as fast as the broker takes them and time them into Kafka. A warm-up
 * first proves the path end to end (subscription, producer, topic metadata, JIT).
 */
export async function measureBurst(b: Bench, bridge: Bridge, n: number): Promise<PipelineResult> {
  const pid = bridge.child.pid!;
  await startPublisher(b, {
    prefix: bridge.prefix,
    count: WARMUP_READINGS,
    rate: 0,
    metric: WARMUP_METRIC,
    qos: bridge.publishQos,
  }).next('done', 120_000);
  await untilInKafka(bridge, 0, WARMUP_READINGS, `${bridge.name} warm-up`);
  const before = await bridge.metrics?.();
  const commits0 = before?.get('sensorgate_buffer_commits_total');
  const ingested0 = before?.get('sensorgate_readings_ingested_total') ?? 0;
  const sent0 = before?.get('sensorgate_readings_sent_total') ?? 0;

  const meter = runMeter(b, pid);
  const publisher = startPublisher(b, { prefix: bridge.prefix, count: n, rate: 0, qos: bridge.publishQos });
  const t0 = Number((await publisher.next('start', 30_000)).t);
  const samples: GatewayTimeline['samples'] = [];
  let nextSample = 0;
  const sample = async () => {
    if (!bridge.metrics || Date.now() < nextSample) return;
    nextSample = Date.now() + 250;
    const m = await bridge.metrics();
    samples.push({
      t: Date.now() - t0,
      ingested: (m.get('sensorgate_readings_ingested_total') ?? 0) - ingested0,
      sent: (m.get('sensorgate_readings_sent_total') ?? 0) - sent0,
      depth: m.get('sensorgate_buffer_depth') ?? 0,
    });
  };
  await untilInKafka(bridge, WARMUP_READINGS, WARMUP_READINGS + n, bridge.name, sample);
  const { figures } = meter.finish(bridge.name, n, t0);
  // A fast burst can end between two samples: one more, so the timeline always ends with all of it.
  nextSample = 0;
  await sample();
  const published = await publisher.next('done', 30_000);
  const commits1 = (await bridge.metrics?.())?.get('sensorgate_buffer_commits_total');
  const durable = samples.find((s) => s.ingested >= n);
  const latencyMs = await kafkaLatencies(b.kafka.brokers, bridge.topic, METRIC, {
    readCommitted: bridge.transactional,
  });
  // What a consumer reads back: every reading, and under exactly-once each one once.
  const readBack = latencyMs?.count ?? 0;
  if (readBack < n || (bridge.transactional && readBack !== n)) {
    throw new Error(
      `${bridge.name}: ${readBack} readings read back from ${bridge.topic}${bridge.transactional ? ' (read_committed)' : ''}, ${n} published`,
    );
  }

  return {
    ...figures,
    publisherCpuSecondsPerMillion: (Number(published.cpuS) / n) * 1e6,
    latencyMs,
    commits: commits0 !== undefined && commits1 !== undefined ? commits1 - commits0 : undefined,
    gateway: bridge.metrics
      ? {
          durableAfterS: durable ? durable.t / 1000 : null,
          maxBufferDepth: Math.max(0, ...samples.map((s) => s.depth)),
          samples,
        }
      : undefined,
  };
}

export interface SteadyResult extends PipelineResult {
  ratePerSecond: number;
  /** Medians over the second half of the run: VmRSS, and its parts RssAnon (the process's own memory) and RssFile (mapped files, mostly the node binary). */
  steadyRssBytes: number;
  steadyRssAnonBytes: number;
  steadyRssFileBytes: number;
  rssSamples: Array<{ t: number; rssBytes: number; rssAnonBytes: number; rssFileBytes: number }>;
  /** CPU (user + system) in % of one core over the first half of the run, after a settling second, with no strace attached. */
  cpuPercent: number;
  /** /proc/<pid>/io write_bytes from the first publish until every reading was in Kafka, per reading. */
  writeBytesPerReading: number;
  /** fsync + fdatasync calls over the second half of the run (strace attached). */
  fsyncs?: FsyncCount;
  /** The same gateway then takes a burst as fast as the publisher goes, strace attached throughout. */
  burst?: { readings: number; seconds: number; readingsPerSecond: number; fsyncs: FsyncCount };
  /** For reading the RSS: Node alone, and Node with the gateway's modules loaded but not started. */
  baselines?: { emptyNode: Memory; gatewayModules: Memory };
}

export interface SteadyOptions {
  /** Count the gateway's fsyncs in the second half, then in a burst of this many readings. */
  fsyncBurst?: number;
  /**
   * First publish at the rate for this long, outside every figure but peak memory. A fresh
   * process spends its first second compiling and opening the producer's connections; a gateway
   * that runs for months does not.
   */
  warmupSeconds?: number;
}

/** Settling time before the CPU window: the first readings warm the JIT and connect the producer's batches. */
const CPU_SETTLE_MS = 1000;

/** A fresh gateway at a steady publish rate: memory, CPU, disk writes and fsyncs, and latency without a backlog. */
export async function measureSteady(
  b: Bench,
  bridge: Bridge,
  rate: number,
  seconds: number,
  o: SteadyOptions = {},
): Promise<SteadyResult> {
  const pid = bridge.child.pid!;
  const n = rate * seconds;
  const halfMs = (seconds * 1000) / 2;
  const warm = Math.round(rate * (o.warmupSeconds ?? 0));
  if (warm > 0) {
    await startPublisher(b, { prefix: bridge.prefix, count: warm, rate, metric: WARMUP_METRIC }).next('done', 120_000);
    await untilInKafka(bridge, 0, warm, `${bridge.name} warm-up`);
  }
  const meter = runMeter(b, pid);
  const written0 = writeBytes(pid);
  const publisher = startPublisher(b, { prefix: bridge.prefix, count: n, rate });
  const t0 = Number((await publisher.next('start', 30_000)).t);
  const rssSamples: SteadyResult['rssSamples'] = [];
  let cpuFrom: { t: number; cpu: number } | undefined;
  let cpuPercent = Number.NaN;
  let trace: Promise<FsyncTrace> | undefined;
  let nextSample = 0;
  const sample = () => {
    const t = Date.now() - t0;
    if (cpuFrom === undefined && t >= CPU_SETTLE_MS) cpuFrom = { t, cpu: cpuSeconds(pid) };
    if (cpuFrom !== undefined && Number.isNaN(cpuPercent) && t >= halfMs) {
      cpuPercent = ((cpuSeconds(pid) - cpuFrom.cpu) / ((t - cpuFrom.t) / 1000)) * 100;
      if (o.fsyncBurst) trace = traceFsyncs(pid, b.workDir, `${bridge.name}-steady`);
    }
    if (t < nextSample) return;
    nextSample = t + 1000;
    const { rssBytes, rssAnonBytes, rssFileBytes } = memory(pid);
    rssSamples.push({ t, rssBytes, rssAnonBytes, rssFileBytes });
  };
  await untilInKafka(bridge, warm, warm + n, `${bridge.name} at ${rate}/s`, sample);
  const fsyncs = await (await trace)?.stop();
  const writeBytesPerReading = (writeBytes(pid) - written0) / n;
  const { figures, mem } = meter.finish(bridge.name, n, t0);
  const published = await publisher.next('done', 30_000);
  const secondHalf = rssSamples.filter((s) => s.t >= halfMs);
  const median = (field: 'rssBytes' | 'rssAnonBytes' | 'rssFileBytes') => {
    const sorted = secondHalf.map((s) => s[field]).sort((x, y) => x - y);
    return sorted[Math.floor(sorted.length / 2)] ?? mem[field];
  };
  const latencyMs = bridge.topic ? await kafkaLatencies(b.kafka.brokers, bridge.topic, METRIC) : undefined;
  return {
    ...figures,
    ratePerSecond: rate,
    publisherCpuSecondsPerMillion: (Number(published.cpuS) / n) * 1e6,
    steadyRssBytes: median('rssBytes'),
    steadyRssAnonBytes: median('rssAnonBytes'),
    steadyRssFileBytes: median('rssFileBytes'),
    rssSamples,
    cpuPercent,
    writeBytesPerReading,
    fsyncs,
    latencyMs,
    burst: o.fsyncBurst ? await fsyncsInBurst(b, bridge, warm + n, o.fsyncBurst) : undefined,
  };
}

/** After `before` readings, `n` more as fast as they go, with the gateway's fsyncs counted throughout. */
async function fsyncsInBurst(b: Bench, bridge: Bridge, before: number, n: number): Promise<SteadyResult['burst']> {
  const trace = await traceFsyncs(bridge.child.pid!, b.workDir, `${bridge.name}-burst`);
  const publisher = startPublisher(b, { prefix: bridge.prefix, count: n, rate: 0, metric: WARMUP_METRIC });
  const t0 = Number((await publisher.next('start', 30_000)).t);
  await untilInKafka(bridge, before, before + n, `${bridge.name} burst under strace`);
  const seconds = (Date.now() - t0) / 1000;
  const fsyncs = await trace.stop();
  await publisher.next('done', 30_000);
  return { readings: n, seconds, readingsPerSecond: n / seconds, fsyncs };
}

/**
 * The newest main-thread .cpuprofile Node wrote into `dir` (the gateway writes it as it exits).
 * Node names them CPU.<date>.<time>.<pid>.<thread id>.<n>.cpuprofile; the main thread is 0, and
 * the worker that loads the config writes one of its own.
 */
export async function profileIn(dir: string): Promise<string | undefined> {
  const files = (await readdir(dir).catch(() => [])).filter((f) => /\.0\.\d+\.cpuprofile$/.test(f)).sort();
  return files.length ? join(dir, files[files.length - 1]!) : undefined;
}

/** Memory of a Node process that loads `module` (or nothing) and idles for a moment. */
async function memoryOfNode(module?: string): Promise<Memory> {
  const code = `${module ? `await import(${JSON.stringify(module)});` : ''}
    await new Promise((r) => setTimeout(r, 500));
    process.stdout.write((await import('node:fs')).readFileSync('/proc/self/status', 'utf8'));`;
  const child = spawnTracked(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString('utf8');
  });
  await expectSuccess('node (RSS baseline)', child);
  return memoryOf(out);
}

export async function nodeBaselines(): Promise<NonNullable<SteadyResult['baselines']>> {
  return {
    emptyNode: await memoryOfNode(),
    gatewayModules: await memoryOfNode(new URL('../gateway.js', import.meta.url).href),
  };
}
