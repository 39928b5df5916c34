/**
 * `npm run bench`: speed and memory of the gateway beside its ceilings and its floor, in one run
 * on one machine (docs/bench.md). Starts its own mosquitto and Kafka broker (or uses
 * $KAFKA_BROKERS), stops everything it started, prints a table and writes
 * bench-results/bench-<timestamp>.json.
 *
 *   node dist/gateway/bench/run.js [--quick] [--only buffer,pipelines,delivery,qos,steady,backlog,fleet] [--cpu-prof]
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release } from 'node:os';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { benchBacklog } from './backlog-bench.js';
import { type BufferBenchResult, benchBuffer } from './buffer-bench.js';
import { kcatCeiling, mqttPipeCeiling, mqttPipeSameFeed } from './ceilings.js';
import { benchDelivery } from './delivery-bench.js';
import { benchFleet } from './fleet-bench.js';
import { type BenchKafka, KafkaProbe, startBenchKafka, startBenchMosquitto } from './peers.js';
import {
  type Bench,
  launchBareSubscriber,
  launchGateway,
  launchNaiveBridge,
  measureBurst,
  measureSteady,
  nodeBaselines,
  profileIn,
} from './pipelines.js';
import { runTool } from './proc.js';
import { summariseProfile } from './profile.js';
import { note, phase } from './progress.js';
import { benchQos } from './qos-bench.js';
import { type BenchResults, checkTargets, failed, formatReport, type Outcome, ok } from './report.js';

/**
 * Sized so that each measurement lasts several seconds on a 2-core machine and the whole run stays under 10 minutes.
 * The fleet keeps its 500 gateways even when quick: its target is about that many.
 */
const SIZES = {
  full: {
    bufferReadings: 500_000,
    bufferRounds: 2,
    gateway: 100_000,
    naive: 5_000,
    kcat: 500_000,
    mqttPipe: 100_000,
    delivery: 100_000,
    deliveryRounds: 2,
    qos: 50_000,
    qosRounds: 2,
    steadyRate: 500,
    steadySeconds: 30,
    fsyncBurst: 50_000,
    halfRateSeconds: 15,
    backlog: 1_000_000,
    liveRate: 500,
    fleetGateways: 500,
    fleetRequests: 200,
  },
  quick: {
    bufferReadings: 100_000,
    bufferRounds: 1,
    gateway: 20_000,
    naive: 1_000,
    kcat: 100_000,
    mqttPipe: 20_000,
    delivery: 20_000,
    deliveryRounds: 1,
    qos: 20_000,
    qosRounds: 1,
    steadyRate: 500,
    steadySeconds: 10,
    fsyncBurst: 20_000,
    halfRateSeconds: 5,
    backlog: 100_000,
    liveRate: 500,
    fleetGateways: 500,
    fleetRequests: 100,
  },
};
/**
 * Readings per buffer commit swept by the buffer phase. Ingest commits once per
 * buffer.commitIntervalMs window, so under load its commits hold hundreds to thousands of readings.
 */
const COMMIT_SIZES = [200, 1000, 5000];
/** Where the buffer target is evaluated when this run has no gateway burst to take the commit size from. */
const DEFAULT_COMMIT_SIZE = 1000;
/**
 * Seconds at half the burst rate before its latency counts. The first second of a fresh process
 * took p99 from about 95 to about 300 ms on a slow 2-core VM: compiling, not load (docs/bench.md).
 */
const HALF_RATE_WARMUP_S = 2;
const PHASES = ['buffer', 'pipelines', 'delivery', 'qos', 'steady', 'backlog', 'fleet'] as const;
/** kafka.drain modes the backlog phase runs, each with a fresh gateway. */
const DRAIN_MODES = ['in-order', 'live-first'] as const;
type Phase = (typeof PHASES)[number];

const root = fileURLToPath(new URL('../../../', import.meta.url));

const args = new Command('npm run bench --')
  .description('measure the gateway side by side with its peers (docs/bench.md)')
  .option('--quick', 'smaller sizes: a smoke run, not figures to quote')
  .addOption(
    new Option('--only <phases>', `comma-separated phases (default: all): ${PHASES.join(', ')}`).argParser((v) => {
      const wanted = v.split(',').map((s) => s.trim());
      const unknown = wanted.find((p) => !PHASES.includes(p as Phase));
      if (unknown !== undefined) throw new InvalidArgumentError(`unknown phase "${unknown}"`);
      return new Set(wanted);
    }),
  )
  .option('--cpu-prof', "profile the gateway's CPU during its burst and summarise where the time goes")
  .showHelpAfterError()
  // Wrong usage exits 2, as the sensorgate CLI does.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2))
  .parse()
  .opts<{ quick?: boolean; only?: Set<string>; cpuProf?: boolean }>();
const only = args.only ?? new Set<string>(PHASES);
const wants = (p: Phase) => only.has(p);
const sizes = args.quick ? SIZES.quick : SIZES.full;

const cleanups: Array<() => Promise<unknown>> = [];
async function cleanUp(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!().catch((err: Error) => note(`cleanup: ${err.message}`));
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    phase(`${signal}: stopping everything the bench started`);
    void cleanUp().finally(() => process.exit(130));
  });
}

/** A failed measurement is reported as such and the bench goes on with the others. */
async function attempt<T>(what: string, fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return await fn();
  } catch (err) {
    note(`${what} FAILED: ${(err as Error).message}`);
    return { error: (err as Error).message };
  }
}

/** The buffer target is about the commits the gateway makes: its own burst's size in this run, when there was one. */
function bufferTargetSize(results: BenchResults): BufferBenchResult['evaluatedAt'] {
  const gw = ok(results.pipelines.gateway);
  if (gw?.commits) {
    return {
      readingsPerCommit: Math.round(gw.readings / gw.commits),
      why: `the gateway's burst in this run: ${gw.readings.toLocaleString('en-US')} readings in ${gw.commits} commits`,
    };
  }
  return { readingsPerCommit: DEFAULT_COMMIT_SIZE, why: 'no gateway burst in this run' };
}

function toolVersion(cmd: string, args: string[], pattern: RegExp): string {
  try {
    return pattern.exec(runTool(cmd, args))?.[1] ?? 'unknown';
  } catch (err) {
    return `unavailable (${(err as Error).message.split('\n')[0]})`;
  }
}

/** Launch a pipeline, measure it, and stop it whatever the measurement did. */
async function measured<P extends { stop(): Promise<unknown> }, T>(
  launch: Promise<P>,
  measure: (pipeline: P) => Promise<T>,
): Promise<T> {
  const pipeline = await launch;
  try {
    return await measure(pipeline);
  } finally {
    await pipeline.stop();
  }
}

/** Where this run writes: the results file, and a work dir that is removed at the end. */
interface RunFiles {
  stamp: string;
  resultsDir: string;
  resultsFile: string;
  workDir: string;
}

async function runFiles(): Promise<RunFiles> {
  const stamp = new Date()
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
  const resultsDir = join(root, 'bench-results');
  await mkdir(resultsDir, { recursive: true });
  // On the repository's file system (not a tmpfs /tmp), so that fsync and bytes written are real.
  const workDir = await mkdtemp(join(resultsDir, `.work-${stamp}-`));
  cleanups.push(() => rm(workDir, { recursive: true, force: true }));
  return { stamp, resultsDir, resultsFile: join(resultsDir, `bench-${stamp}.json`), workDir };
}

function newResults(): BenchResults {
  return {
    startedAt: new Date().toISOString(),
    host: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      node: process.version,
      kernel: release(),
      loadavgStart: loadavg(),
    },
    peers: { kcat: toolVersion('kcat', ['-V'], /Version (\S+)/) },
    sizes,
    pipelines: {},
    targets: [],
  };
}

/** Kafka when a phase needs it ($KAFKA_BROKERS or one of our own). */
async function startKafkaIfNeeded(results: BenchResults, needsMqtt: boolean): Promise<BenchKafka | undefined> {
  if (!needsMqtt && !wants('fleet')) return undefined;
  phase(
    process.env.KAFKA_BROKERS
      ? `using Kafka at $KAFKA_BROKERS=${process.env.KAFKA_BROKERS}`
      : 'starting Kafka (first run downloads it from Maven Central)',
  );
  const kafka = await startBenchKafka((m) => note(m));
  cleanups.push(() => kafka.stop());
  results.peers.kafka = { version: kafka.version, brokers: kafka.brokers };
  return kafka;
}

/** mosquitto and a Kafka probe beside Kafka: what the MQTT pipelines run against. */
async function startBench(results: BenchResults, kafka: BenchKafka, workDir: string): Promise<Bench> {
  phase('starting mosquitto');
  const mosquitto = await startBenchMosquitto(workDir);
  cleanups.push(() => mosquitto.stop());
  results.peers.mosquitto = mosquitto.version;
  const probe = await KafkaProbe.connect(kafka.brokers);
  cleanups.push(() => probe.close());
  return { runId: `r${Date.now().toString(36)}`, workDir, kafka, mosquitto, probe };
}

/** The gateway (with each Kafka client) and the naive bridge on the same burst, beside the ceilings (kcat, a bare MQTT pipe fed two ways). */
async function runPipelines(bench: Bench, results: BenchResults): Promise<void> {
  phase(`gateway: ${sizes.gateway.toLocaleString('en-US')} readings MQTT -> sensorgate run -> Kafka`);
  results.pipelines.gateway = await attempt('gateway', () =>
    measured(launchGateway(bench, 'gateway'), (gw) => measureBurst(bench, gw, sizes.gateway)),
  );
  phase(`gateway: the same burst with kafka.client: platformatic (@platformatic/kafka instead of kafkajs)`);
  results.pipelines.gatewayPlatformatic = await attempt('gateway (platformatic)', () =>
    measured(launchGateway(bench, 'gateway-platformatic', { client: 'platformatic' }), (gw) =>
      measureBurst(bench, gw, sizes.gateway),
    ),
  );
  phase(`naive bridge: ${sizes.naive.toLocaleString('en-US')} readings, one awaited send each`);
  results.pipelines.naive = await attempt('naive bridge', () =>
    measured(launchNaiveBridge(bench, 'naive'), (naive) => measureBurst(bench, naive, sizes.naive)),
  );
  phase(`kcat: ${sizes.kcat.toLocaleString('en-US')} records from a file`);
  results.pipelines.kcat = await attempt('kcat', () => kcatCeiling(bench, sizes.kcat));
  phase(`bare MQTT pipe: ${sizes.mqttPipe.toLocaleString('en-US')} messages, the bench's publisher -> mosquitto_sub`);
  results.pipelines.mqttPipeSameFeed = await attempt('MQTT pipe (same feed)', () =>
    mqttPipeSameFeed(bench, sizes.mqttPipe),
  );
  phase(`bare MQTT pipe: ${sizes.mqttPipe.toLocaleString('en-US')} messages, mosquitto_pub -> mosquitto_sub`);
  results.pipelines.mqttPipe = await attempt('MQTT pipe', () => mqttPipeCeiling(bench, sizes.mqttPipe));
}

async function runDelivery(bench: Bench, results: BenchResults): Promise<void> {
  phase(
    `delivery: ${sizes.deliveryRounds} x (at-least-once, exactly-once), a gateway burst of ${sizes.delivery.toLocaleString('en-US')} readings each`,
  );
  results.delivery = await attempt('delivery', () =>
    benchDelivery(bench, {
      readings: sizes.delivery,
      rounds: sizes.deliveryRounds,
      onRun: (r) =>
        note(
          `${r.delivery.padEnd(13)} round ${r.round}: ${Math.round(r.readingsPerSecond).toLocaleString('en-US')} readings/s`,
        ),
    }),
  );
}

async function runQos(bench: Bench, results: BenchResults): Promise<void> {
  phase(
    `qos: ${sizes.qosRounds} x (source qos 1, qos 2), a gateway burst of ${sizes.qos.toLocaleString('en-US')} readings published at QoS 2 each`,
  );
  results.qos = await attempt('qos', () =>
    benchQos(bench, {
      readings: sizes.qos,
      rounds: sizes.qosRounds,
      onRun: (r) =>
        note(`qos ${r.qos} round ${r.round}: ${Math.round(r.readingsPerSecond).toLocaleString('en-US')} readings/s`),
    }),
  );
}

async function runSteady(bench: Bench, results: BenchResults): Promise<void> {
  phase(
    `steady: a fresh gateway at ${sizes.steadyRate} readings/s for ${sizes.steadySeconds} s, then a burst of ${sizes.fsyncBurst.toLocaleString('en-US')} under strace`,
  );
  results.steady = await attempt('steady rate', () =>
    measured(launchGateway(bench, 'steady'), (gw) =>
      measureSteady(bench, gw, sizes.steadyRate, sizes.steadySeconds, { fsyncBurst: sizes.fsyncBurst }),
    ),
  );
  if (!failed(results.steady)) results.steady.baselines = await nodeBaselines();
  phase(
    `steady floor: mqtt.js alone, subscribed at QoS 1, at ${sizes.steadyRate} readings/s for ${sizes.steadySeconds} s`,
  );
  results.steadyFloor = await attempt('steady floor', () =>
    measured(launchBareSubscriber(bench, 'steady-floor'), (sub) =>
      measureSteady(bench, sub, sizes.steadyRate, sizes.steadySeconds),
    ),
  );
  // Latency at half the burst's rate: loaded, but with room to keep up.
  const burst = ok(results.pipelines.gateway);
  if (!burst) return note('half-rate steady: skipped, it needs the pipelines phase for the burst rate');
  const rate = Math.round(burst.readingsPerSecond / 2);
  phase(
    `steady at half the burst rate: a fresh gateway at ${rate} readings/s, ${HALF_RATE_WARMUP_S} s of warm-up, then ${sizes.halfRateSeconds} s`,
  );
  results.halfRate = await attempt('half-rate steady', () =>
    measured(launchGateway(bench, 'half-rate'), (gw) =>
      measureSteady(bench, gw, rate, sizes.halfRateSeconds, { warmupSeconds: HALF_RATE_WARMUP_S }),
    ),
  );
}

async function runBacklog(bench: Bench, results: BenchResults): Promise<void> {
  phase(
    `backlog: per kafka.drain mode (${DRAIN_MODES.join(', ')}), ${sizes.backlog.toLocaleString('en-US')} readings with Kafka down, then its drain beside ${sizes.liveRate} live readings/s`,
  );
  results.backlog = await attempt('backlog', () =>
    benchBacklog(bench, { backlog: sizes.backlog, liveRate: sizes.liveRate, modes: [...DRAIN_MODES] }),
  );
}

/** Another gateway burst under node --cpu-prof; the profile is kept beside the results. */
async function runProfile(bench: Bench, results: BenchResults, files: RunFiles): Promise<void> {
  phase(`profile: another gateway burst of ${sizes.gateway.toLocaleString('en-US')} readings under node --cpu-prof`);
  results.profile = await attempt('profile', async () => {
    const dir = join(files.workDir, 'cpu-prof');
    const burst = await measured(launchGateway(bench, 'profiled', { cpuProfDir: dir }), (gw) =>
      measureBurst(bench, gw, sizes.gateway),
    );
    const exitedAt = Date.now();
    const file = await profileIn(dir);
    if (!file) throw new Error(`the gateway wrote no .cpuprofile into ${dir}`);
    const kept = join(files.resultsDir, `gateway-${files.stamp}.cpuprofile`);
    await copyFile(file, kept);
    // Only the burst, not start-up, warm-up or shutdown.
    return summariseProfile(kept, { fromEndMs: exitedAt - burst.startedAt, toEndMs: exitedAt - burst.endedAt });
  });
}

async function runFleet(kafka: BenchKafka, results: BenchResults): Promise<void> {
  phase(
    `fleet: ${sizes.fleetGateways} synthetic gateways -> status topic -> sensorgate fleet; ${sizes.fleetRequests} x /api/gateways, then the page in Chromium`,
  );
  results.fleet = await attempt('fleet', () =>
    benchFleet(kafka.brokers, { gateways: sizes.fleetGateways, requests: sizes.fleetRequests }),
  );
}

/** After the pipelines, so that it can be measured at the commit size the gateway made. */
async function runBuffer(workDir: string, results: BenchResults): Promise<void> {
  const evaluateAt = bufferTargetSize(results);
  phase(
    `buffer append: ${sizes.bufferRounds} x (OFF, FULL) at ${COMMIT_SIZES.join(', ')} readings per commit and the target's ${evaluateAt.readingsPerCommit}, ${sizes.bufferReadings.toLocaleString('en-US')} readings each`,
  );
  results.buffer = await attempt('buffer append', async () =>
    benchBuffer(workDir, {
      readings: sizes.bufferReadings,
      perCommit: COMMIT_SIZES,
      rounds: sizes.bufferRounds,
      evaluateAt,
      onRun: (r) =>
        note(
          `${r.synchronous.padEnd(4)} ${String(r.readingsPerCommit).padStart(5)}/commit round ${r.round}: ${Math.round(r.readingsPerSecond).toLocaleString('en-US')} readings/s, ${Math.round(r.bytesPerReading)} bytes written/reading`,
        ),
    }),
  );
}

/** Check the targets, write the results file, print the table; 1 when a measurement failed. */
async function report(results: BenchResults, resultsFile: string): Promise<number> {
  results.finishedAt = new Date().toISOString();
  results.host.loadavgEnd = loadavg();
  results.targets = checkTargets(results);
  await writeFile(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(formatReport(results, relative(process.cwd(), resultsFile) || basename(resultsFile)));
  const anyFailed = [
    results.buffer,
    results.delivery,
    results.qos,
    results.steady,
    results.halfRate,
    results.backlog,
    results.profile,
    results.fleet,
    ...Object.values(results.pipelines),
  ].some((o) => o !== undefined && typeof (o as { error?: unknown }).error === 'string');
  return anyFailed ? 1 : 0;
}

async function main(): Promise<number> {
  const files = await runFiles();
  const results = newResults();
  const needsMqtt = wants('pipelines') || wants('delivery') || wants('qos') || wants('steady') || wants('backlog');
  const kafka = await startKafkaIfNeeded(results, needsMqtt);
  if (kafka && needsMqtt) {
    const bench = await startBench(results, kafka, files.workDir);
    if (wants('pipelines')) await runPipelines(bench, results);
    if (wants('delivery')) await runDelivery(bench, results);
    if (wants('qos')) await runQos(bench, results);
    if (wants('steady')) await runSteady(bench, results);
    if (wants('backlog')) await runBacklog(bench, results);
    if (args.cpuProf) await runProfile(bench, results, files);
  }
  if (kafka && wants('fleet')) await runFleet(kafka, results);
  if (wants('buffer')) await runBuffer(files.workDir, results);
  return report(results, files.resultsFile);
}

let code = 1;
try {
  code = await main();
} catch (err) {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
} finally {
  phase('stopping everything the bench started');
  await cleanUp();
}
process.exit(code);
