/**
 * The bench's output: targets checked against the measurements, a readable table on stdout, and
 * the full results as JSON for comparing runs.
 */
import type { BacklogBenchResult, BacklogRun } from './backlog-bench.js';
import type { BufferBenchResult } from './buffer-bench.js';
import type { DeliveryBenchResult } from './delivery-bench.js';
import type { FleetBenchResult } from './fleet-bench.js';
import type { PipelineResult, SteadyResult } from './pipelines.js';
import type { ProfileSummary } from './profile.js';
import type { QosBenchResult } from './qos-bench.js';

export interface Failed {
  error: string;
}

export type Outcome<T> = T | Failed;

export function failed<T>(o: Outcome<T> | undefined): o is Failed {
  return o !== undefined && typeof (o as Failed).error === 'string';
}

export interface BenchResults {
  startedAt: string;
  finishedAt?: string;
  host: { cpus: number; cpuModel: string; node: string; kernel: string; loadavgStart: number[]; loadavgEnd?: number[] };
  peers: { kafka?: { version: string; brokers: string[] }; mosquitto?: string; kcat?: string };
  sizes: Record<string, number>;
  buffer?: Outcome<BufferBenchResult>;
  pipelines: Partial<
    Record<
      'gateway' | 'gatewayPlatformatic' | 'naive' | 'kcat' | 'mqttPipeSameFeed' | 'mqttPipe',
      Outcome<PipelineResult>
    >
  >;
  delivery?: Outcome<DeliveryBenchResult>;
  qos?: Outcome<QosBenchResult>;
  steady?: Outcome<SteadyResult>;
  /** mqtt.js alone at the steady rate: what the MQTT client costs before the gateway does anything. */
  steadyFloor?: Outcome<SteadyResult>;
  /** A steady rate of half the gateway burst's: latency under load with room to keep up. */
  halfRate?: Outcome<SteadyResult>;
  backlog?: Outcome<BacklogBenchResult>;
  profile?: Outcome<ProfileSummary>;
  fleet?: Outcome<FleetBenchResult>;
  targets: Target[];
}

export interface Target {
  name: string;
  measured: number | null;
  op: '>=' | '<=' | '<';
  limit: number;
  unit: 'x' | 'MiB' | 'ms' | '%' | 'B' | '/s' | 'CPU s/M' | 'readings';
  pass: boolean | null;
  note?: string;
}

const MiB = 1024 * 1024;

export function ok<T>(o: Outcome<T> | undefined): T | undefined {
  return o === undefined || failed(o) ? undefined : o;
}

function target(
  name: string,
  measured: number | undefined,
  op: Target['op'],
  limit: number,
  unit: Target['unit'],
  note?: string,
): Target {
  if (measured === undefined || !Number.isFinite(measured))
    return { name, measured: null, op, limit, unit, pass: null, note: 'not measured' };
  return {
    name,
    measured,
    op,
    limit,
    unit,
    pass: op === '>=' ? measured >= limit : op === '<=' ? measured <= limit : measured < limit,
    note,
  };
}

/** The acceptance targets of the core issue, from whatever was measured. */
export function checkTargets(r: BenchResults): Target[] {
  const buffer = ok(r.buffer);
  const gw = ok(r.pipelines.gateway);
  const naive = ok(r.pipelines.naive);
  const steady = ok(r.steady);
  const floor = ok(r.steadyFloor);
  const delivery = ok(r.delivery);
  const bufferAt = buffer?.sizes.find((s) => s.readingsPerCommit === buffer.evaluatedAt.readingsPerCommit);
  const fleet = ok(r.fleet);
  const steadyRate = steady?.ratePerSecond ?? 500;
  const half = ok(r.halfRate);
  const pipe = ok(r.pipelines.mqttPipeSameFeed);
  const cPipe = ok(r.pipelines.mqttPipe);
  const backlog = ok(r.backlog);
  const drainOf = (mode: BacklogRun['drain']) => backlog?.runs.find((x) => x.drain === mode);
  return [
    target(
      `buffer append FULL / OFF at ${buffer ? int(buffer.evaluatedAt.readingsPerCommit) : '-'}/commit`,
      bufferAt?.fullOverOff,
      '>=',
      0.8,
      'x',
      buffer?.evaluatedAt.why,
    ),
    target(
      'gateway / naive bridge',
      gw && naive ? gw.readingsPerSecond / naive.readingsPerSecond : undefined,
      '>=',
      15,
      'x',
    ),
    target(
      'gateway / bare MQTT pipe (same publisher)',
      gw && pipe ? gw.readingsPerSecond / pipe.readingsPerSecond : undefined,
      '>=',
      0.9,
      'x',
      gw && cPipe
        ? `${(gw.readingsPerSecond / cPipe.readingsPerSecond).toPrecision(3)}x the pipe fed by mosquitto_pub`
        : undefined,
    ),
    target('gateway CPU in the burst', gw?.cpuSecondsPerMillion, '<=', 20, 'CPU s/M'),
    target(
      `p99 latency at half the burst rate (${half ? int(half.ratePerSecond) : '-'}/s)`,
      half?.latencyMs?.p99,
      '<=',
      100,
      'ms',
      half?.latencyMs ? `p50 ${ms(half.latencyMs.p50)} ms, max ${ms(half.latencyMs.max)} ms` : undefined,
    ),
    target(
      'exactly-once / at-least-once',
      delivery?.exactlyOnceOverAtLeastOnce,
      '>=',
      0.7,
      'x',
      delivery ? `batchMaxRecords ${int(delivery.batchMaxRecords)} in both` : undefined,
    ),
    target(`bytes written per reading at ${steadyRate}/s`, steady?.writeBytesPerReading, '<=', 300, 'B', 'FULL'),
    target(
      `fsyncs/s at ${steadyRate}/s`,
      steady?.fsyncs?.perSecond,
      '<=',
      50,
      '/s',
      steady?.fsyncs
        ? `${steady.fsyncs.fsync} fsync + ${steady.fsyncs.fdatasync} fdatasync in ${fixed(steady.fsyncs.seconds)} s`
        : undefined,
    ),
    target(
      'fsyncs/s in a burst',
      steady?.burst?.fsyncs.perSecond,
      '<=',
      50,
      '/s',
      steady?.burst
        ? `${int(steady.burst.readings)} readings at ${int(steady.burst.readingsPerSecond)}/s under strace`
        : undefined,
    ),
    target(
      `gateway CPU at ${steadyRate}/s`,
      steady?.cpuPercent,
      '<=',
      2,
      '%',
      `of one core${floor ? `; mqtt.js alone ${fixed(floor.cpuPercent, 2)} %` : ''}`,
    ),
    target(
      `gateway peak RSS (VmHWM) at ${steadyRate}/s`,
      steady ? steady.peakRssBytes! / MiB : undefined,
      '<=',
      80,
      'MiB',
      steady
        ? `RssFile ${mib(steady.steadyRssFileBytes)}${floor ? `; mqtt.js alone ${mib(floor.peakRssBytes)}` : ''}`
        : undefined,
    ),
    target(
      `gateway RssAnon at ${steadyRate}/s`,
      steady ? steady.steadyRssAnonBytes / MiB : undefined,
      '<=',
      45,
      'MiB',
      `median, second half${floor ? `; mqtt.js alone ${mib(floor.steadyRssAnonBytes)}` : ''}`,
    ),
    ...(['in-order', 'live-first'] as const).flatMap((mode) => {
      const run = drainOf(mode);
      const liveRate = run?.liveRate ?? 500;
      return [
        target(`backlog ${mode}: drain rate`, run?.drainRate, '>=', 10 * liveRate, '/s', `10 x ${liveRate} live/s`),
        mode === 'in-order'
          ? target(
              'backlog in-order: readings out of sensor order',
              run?.outOfOrder,
              '<=',
              0,
              'readings',
              run ? `${int(run.duplicates)} repeated seqs` : undefined,
            )
          : target(
              'backlog live-first: live p99 during the drain',
              run?.liveLatencyMs?.p99,
              '<=',
              2000,
              'ms',
              run?.liveLatencyMs
                ? `p50 ${ms(run.liveLatencyMs.p50)} ms; ${int(run.liveBeforeFirstSendMs?.count ?? 0)} early: p99 ${ms(run.liveBeforeFirstSendMs?.p99)} ms`
                : undefined,
            ),
        target(`backlog ${mode}: max WAL`, run ? run.maxWalBytes / MiB : undefined, '<=', 64, 'MiB'),
      ];
    }),
    target(
      `/api/gateways with ${fleet ? int(fleet.gateways) : 500} gateways p95`,
      fleet?.api.p95Ms,
      '<',
      fleet?.api.targetP95Ms ?? 200,
      'ms',
      fleet
        ? `p50 ${fixed(fleet.api.p50Ms)} ms, max ${fixed(fleet.api.maxMs)} ms, ${int(fleet.api.bytes / 1024)} KiB`
        : undefined,
    ),
  ];
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const fixed = (n: number | undefined, digits = 1) => (n === undefined ? '-' : n.toFixed(digits));
const mib = (bytes: number | undefined) => (bytes === undefined ? '-' : `${(bytes / MiB).toFixed(1)} MiB`);
const ms = (n: number | undefined) => (n === undefined ? '-' : int(n));

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('   ')}`;
  return [line(headers), ...rows.map(line)].join('\n');
}

/**
 * Two settings of the gateway burst compared in alternating rounds: a row per setting with its best
 * round in full and every round's readings/s.
 */
function roundsTable(setting: string, rows: [string, PipelineResult, PipelineResult[]][]): string {
  return table(
    [
      setting,
      'readings/s',
      'rounds (readings/s)',
      'durable after s',
      'readings/buffer commit',
      'CPU s/M',
      'peak RSS',
      'p50 ms',
      'p95 ms',
      'p99 ms',
    ],
    rows.map(([name, best, rounds]) => [
      name,
      int(best.readingsPerSecond),
      rounds.map((run) => int(run.readingsPerSecond)).join(' '),
      fixed(best.gateway?.durableAfterS ?? undefined),
      best.commits ? int(best.readings / best.commits) : '-',
      fixed(best.cpuSecondsPerMillion),
      mib(best.peakRssBytes),
      ms(best.latencyMs?.p50),
      ms(best.latencyMs?.p95),
      ms(best.latencyMs?.p99),
    ]),
  );
}

const LABELS: Record<string, string> = {
  gateway: 'gateway (sensorgate run, FULL)',
  gatewayPlatformatic: 'gateway (kafka.client: platformatic)',
  naive: 'naive bridge (floor)',
  kcat: 'kcat producer (Kafka ceiling)',
  mqttPipeSameFeed: 'publisher -> _sub (MQTT ceiling)',
  mqttPipe: 'mosquitto_pub -> _sub (C publishers)',
};

function formatTarget(t: Target): string {
  const mark = t.pass === null ? '?  n/a ' : t.pass ? '✓  pass' : '✗  MISS';
  const whole = t.unit === '/s' || t.unit === 'B' || t.unit === 'readings';
  const value =
    t.measured === null
      ? '-'
      : t.unit === 'x'
        ? `${t.measured.toPrecision(3)}x`
        : `${whole ? int(t.measured) : t.measured.toFixed(1)} ${t.unit}`;
  const limit = t.unit === 'x' ? `${t.limit}x` : `${t.limit} ${t.unit}`;
  return `  ${mark}   ${t.name.padEnd(48)} ${value.padStart(10)}   target ${t.op} ${limit}${t.note ? `   (${t.note})` : ''}`;
}

export function formatReport(r: BenchResults, resultsFile: string): string {
  const out: string[] = [];
  const load = (l: number[] | undefined) => (l ? l.map((x) => x.toFixed(2)).join(' ') : '-');
  out.push('');
  out.push(
    `sensorgate bench   ${r.startedAt}   ${r.host.cpus} CPUs (${r.host.cpuModel})   node ${r.host.node}   load ${load(r.host.loadavgStart)} -> ${load(r.host.loadavgEnd)}`,
  );
  out.push(
    `peers: Kafka ${r.peers.kafka?.version ?? '-'} (${r.peers.kafka?.brokers.join(',') ?? '-'}), mosquitto ${r.peers.mosquitto ?? '-'}, kcat ${r.peers.kcat ?? '-'}`,
  );

  if (r.buffer) {
    out.push('');
    if (failed(r.buffer)) out.push(`1. Buffer append: FAILED: ${r.buffer.error}`);
    else {
      const b = r.buffer;
      out.push(
        `1. Buffer append: SqliteBuffer, WAL, ${int(b.readingsPerRun)} readings per run, best of ${b.rounds} alternating rounds`,
      );
      out.push(
        table(
          [
            'readings/commit',
            'OFF readings/s',
            'FULL readings/s',
            'FULL / OFF',
            'FULL commits',
            'OFF bytes/reading',
            'FULL bytes/reading',
          ],
          b.sizes.map((s) => [
            `${int(s.readingsPerCommit)}${s.readingsPerCommit === b.evaluatedAt.readingsPerCommit ? ' (target)' : ''}`,
            int(s.best.OFF.readingsPerSecond),
            int(s.best.FULL.readingsPerSecond),
            `${s.fullOverOff.toFixed(2)}x`,
            int(s.best.FULL.commits),
            int(s.best.OFF.bytesPerReading),
            int(s.best.FULL.bytesPerReading),
          ]),
        ),
      );
      out.push(
        `  target evaluated at ${int(b.evaluatedAt.readingsPerCommit)} readings per commit: ${b.evaluatedAt.why}.`,
      );
      out.push(
        '  FULL fsyncs the WAL once per commit (checkpoints add a few), OFF never. Bytes: /proc/self/io write_bytes per reading.',
      );
      if (b.queue.length)
        out.push(
          `  as a queue (FULL, 50 readings a commit, acknowledged every ${b.queue.map((q) => q.ackEvery).join(' / ')} commits): ${b.queue.map((q) => int(q.bytesPerReading)).join(' / ')} bytes written per reading.`,
        );
    }
  }

  const p = r.pipelines;
  if (Object.keys(p).length) {
    out.push('');
    out.push('2. MQTT -> Kafka: QoS 1 in, acks=all out, 10 sensors, the same mosquitto and Kafka broker for all');
    const rows = (Object.keys(LABELS) as Array<keyof typeof p>)
      .filter((k) => p[k])
      .map((k) => {
        const x = p[k]!;
        if (failed(x)) return [LABELS[k]!, 'FAILED', '', '', '', '', '', '', ''];
        return [
          LABELS[k]!,
          int(x.readings),
          int(x.readingsPerSecond),
          fixed(x.cpuSecondsPerMillion),
          fixed(x.mosquittoCpuSecondsPerMillion),
          mib(x.peakRssBytes),
          ms(x.latencyMs?.p50),
          ms(x.latencyMs?.p95),
          ms(x.latencyMs?.p99),
        ];
      });
    out.push(
      table(
        ['pipeline', 'readings', 'readings/s', 'CPU s/M', 'mosq. s/M', 'peak RSS', 'p50 ms', 'p95 ms', 'p99 ms'],
        rows,
      ),
    );
    for (const k of Object.keys(LABELS) as Array<keyof typeof p>) {
      const x = p[k];
      if (failed(x)) out.push(`  ${LABELS[k]} FAILED: ${x.error}`);
    }
    const gw = ok(p.gateway);
    const pipeFeed = ok(p.mqttPipeSameFeed);
    if (gw?.gateway) {
      const t = gw.gateway;
      const durable =
        t.durableAfterS === null
          ? 'not seen'
          : `after ${fixed(t.durableAfterS)} s (${int(gw.readings / t.durableAfterS)}/s)`;
      out.push(
        `  gateway: all readings durable in its buffer ${durable}, all in Kafka after ${fixed(gw.seconds)} s; buffer depth peaked at ${int(t.maxBufferDepth)};`,
      );
      out.push(
        `  ${gw.commits === undefined ? '' : `${int(gw.commits)} buffer commits (${int(gw.readings / Math.max(1, gw.commits))} readings each); `}publisher CPU ${fixed(gw.publisherCpuSecondsPerMillion)} s/M${pipeFeed ? ` (${fixed(pipeFeed.publisherCpuSecondsPerMillion)} feeding the bare pipe)` : ''}.`,
      );
    }
    out.push(
      '  CPU s/M: CPU seconds per million readings of the pipeline process (mosq.: of mosquitto). Latency: publish -> Kafka',
    );
    out.push(
      '  log-append time, during the burst (so it includes the queue in front of a slower pipeline). The MQTT ceiling is',
    );
    out.push(
      '  fed by the same publisher process as the pipelines above; mosquitto_pub (one per sensor) shows what C publishers reach.',
    );
  }

  if (r.delivery) {
    out.push('');
    if (failed(r.delivery)) out.push(`3. Exactly-once vs at-least-once: FAILED: ${r.delivery.error}`);
    else {
      const d = r.delivery;
      out.push(
        `3. Exactly-once vs at-least-once: the gateway burst, ${int(d.readingsPerRun)} readings per run, best of ${d.rounds} alternating rounds,`,
      );
      out.push(`   batchMaxRecords ${int(d.batchMaxRecords)} and batchMaxBytes ${int(d.batchMaxBytes)} in both`);
      out.push(
        roundsTable(
          'kafka.delivery',
          (['at-least-once', 'exactly-once'] as const).map((mode) => [
            mode,
            d.best[mode],
            d.runs.filter((run) => run.delivery === mode),
          ]),
        ),
      );
      out.push(
        `  exactly-once / at-least-once: ${d.exactlyOnceOverAtLeastOnce.toFixed(2)}x. Timed until the gateway counts every reading acknowledged`,
      );
      out.push(
        '  (exactly-once: committed); afterwards a consumer reads each one back (exactly-once: read_committed, each once).',
      );
      out.push(
        '  Latency: to the log-append time, which under exactly-once precedes the commit that makes a record readable.',
      );
    }
  }

  if (r.qos) {
    out.push('');
    if (failed(r.qos)) out.push(`3b. MQTT QoS 2 vs QoS 1: FAILED: ${r.qos.error}`);
    else {
      const q = r.qos;
      out.push(
        `3b. MQTT QoS 2 vs QoS 1: the gateway burst, ${int(q.readingsPerRun)} readings per run published at QoS 2, best of ${q.rounds} alternating rounds`,
      );
      out.push(
        roundsTable(
          'source qos',
          ([1, 2] as const).map((qos) => [
            String(qos),
            qos === 1 ? q.best.qos1 : q.best.qos2,
            q.runs.filter((run) => run.qos === qos),
          ]),
        ),
      );
      out.push(
        `  qos 2 / qos 1: ${q.qos2OverQos1.toFixed(2)}x. QoS 2 commits each message twice (held before PUBREC, taken in before PUBCOMP)`,
      );
      out.push('  and waits for one more round trip to the broker; in exchange a crash never stores a message twice.');
    }
  }

  if (r.steady) {
    out.push('');
    if (failed(r.steady)) out.push(`4. Steady rate: FAILED: ${r.steady.error}`);
    else {
      const s = r.steady;
      out.push(
        `4. Gateway at a steady ${s.ratePerSecond} readings/s for ${int(s.readings / s.ratePerSecond)} s (fresh process)`,
      );
      const floor = ok(r.steadyFloor);
      const row = (name: string, x: SteadyResult) => [
        name,
        mib(x.peakRssBytes),
        mib(x.steadyRssBytes),
        mib(x.steadyRssAnonBytes),
        mib(x.steadyRssFileBytes),
        `${fixed(x.cpuPercent, 2)} %`,
        ms(x.latencyMs?.p50),
        ms(x.latencyMs?.p95),
        ms(x.latencyMs?.p99),
        ms(x.latencyMs?.max),
      ];
      out.push(
        table(
          [
            'process',
            'peak RSS (VmHWM)',
            'steady RSS',
            'RssAnon',
            'RssFile',
            'CPU',
            'p50 ms',
            'p95 ms',
            'p99 ms',
            'max ms',
          ],
          [row('gateway', s), ...(floor ? [row('mqtt.js alone (floor)', floor)] : [])],
        ),
      );
      if (failed(r.steadyFloor)) out.push(`  mqtt.js alone (floor) FAILED: ${r.steadyFloor.error}`);
      const f = s.fsyncs;
      out.push(
        `  CPU: % of one core over the first half. The gateway: ${fixed(s.cpuSecondsPerMillion)} CPU s/M, ${int(s.writeBytesPerReading)} bytes written per reading (/proc/<pid>/io);`,
      );
      out.push(
        `  fsyncs ${f ? `${fixed(f.perSecond)}/s (second half, strace)` : '-'}; in a burst of ${s.burst ? `${int(s.burst.readings)} readings at ${int(s.burst.readingsPerSecond)}/s: ${fixed(s.burst.fsyncs.perSecond)} fsyncs/s` : '-'}.`,
      );
      out.push(
        "  steady: medians over the second half. RssAnon is the gateway's own memory (heap, buffers); RssFile is mapped files,",
      );
      out.push(
        "  mostly the node binary's code, shared with every other node process. The floor is mqtt.js alone with the",
      );
      out.push(
        "  gateway's Node flags and MQTT client options, subscribed at QoS 1 to the same publisher: what receiving costs.",
      );
      if (s.baselines) {
        const { emptyNode: e, gatewayModules: g } = s.baselines;
        out.push(
          `  for scale: an empty node process peaks at ${mib(e.peakRssBytes)} (RssAnon ${mib(e.rssAnonBytes)}, RssFile ${mib(e.rssFileBytes)});`,
        );
        out.push(
          `  one that only loads the gateway's modules at ${mib(g.peakRssBytes)} (RssAnon ${mib(g.rssAnonBytes)}, RssFile ${mib(g.rssFileBytes)}).`,
        );
      }
    }
  }

  if (r.halfRate) {
    out.push('');
    if (failed(r.halfRate)) out.push(`4b. Half the burst rate: FAILED: ${r.halfRate.error}`);
    else {
      const h = r.halfRate;
      out.push(
        `4b. Gateway at half the burst rate, ${int(h.ratePerSecond)} readings/s for ${int(h.readings / h.ratePerSecond)} s (fresh process, after a warm-up at that rate)`,
      );
      out.push(
        table(
          ['readings/s', 'CPU %', 'peak RSS', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
          [
            [
              int(h.readingsPerSecond),
              fixed(h.cpuPercent),
              mib(h.peakRssBytes),
              ms(h.latencyMs?.p50),
              ms(h.latencyMs?.p95),
              ms(h.latencyMs?.p99),
              ms(h.latencyMs?.max),
            ],
          ],
        ),
      );
    }
  }

  if (r.backlog) {
    out.push('');
    if (failed(r.backlog)) out.push(`6. Backlog drain: FAILED: ${r.backlog.error}`);
    else {
      const runs = r.backlog.runs;
      const first = runs[0];
      out.push(
        `6. Backlog drain: ${first ? int(first.backlog) : '-'} readings taken in with Kafka down, then drained beside ${first ? int(first.liveRate) : '-'} live readings/s`,
      );
      out.push(
        table(
          [
            'kafka.drain',
            'ingest s',
            'reconnect s',
            'drain s',
            'drain readings/s',
            'live',
            'live p50 ms',
            'live p99 ms',
            'early live',
            'early p99 ms',
            'out of order',
            'max WAL',
            'max depth',
          ],
          runs.map((x) => [
            x.drain,
            fixed(x.ingestSeconds),
            fixed(x.reconnectSeconds),
            fixed(x.drainSeconds),
            int(x.drainRate),
            int(x.live),
            ms(x.liveLatencyMs?.p50),
            ms(x.liveLatencyMs?.p99),
            int(x.liveBeforeFirstSendMs?.count ?? 0),
            ms(x.liveBeforeFirstSendMs?.p99),
            int(x.outOfOrder),
            mib(x.maxWalBytes),
            int(x.maxBufferDepth),
          ]),
        ),
      );
      out.push(
        '  drain: from the first send after Kafka is back until the buffer holds at most a second of live readings;',
      );
      out.push(
        '  readings/s counts every reading sent in that time. Live latency: publish -> Kafka log-append time of the live readings',
      );
      out.push(
        "  published during the drain; early: those published after Kafka was back but before the gateway's first send.",
      );
    }
  }

  if (r.fleet) {
    out.push('');
    if (failed(r.fleet)) out.push(`5. Fleet server: FAILED: ${r.fleet.error}`);
    else {
      const f = r.fleet;
      out.push(
        `5. Fleet server: ${int(f.gateways)} synthetic gateways on a status topic, a real sensorgate fleet, ${fixed(f.statusesPerS)} statuses/s arriving live`,
      );
      out.push(
        table(
          ['/api/gateways', 'requests', 'KiB', 'p50 ms', 'p95 ms', 'max ms'],
          [
            [
              `${int(f.gateways)} gateways`,
              int(f.api.requests),
              int(f.api.bytes / 1024),
              fixed(f.api.p50Ms),
              fixed(f.api.p95Ms),
              fixed(f.api.maxMs),
            ],
          ],
        ),
      );
      const pg = f.page;
      if (!pg || 'skipped' in pg) out.push(`  page: not measured (${pg?.skipped ?? 'no result'})`);
      else {
        out.push(
          table(
            ['page (headless Chromium)', 'shown ms', 'observed s', 'long tasks', 'longest ms', 'frames/s'],
            [
              [
                `${int(f.gateways)} gateways, live updates`,
                int(pg.shownMs),
                int(pg.observedS),
                int(pg.longTasks),
                int(pg.longestTaskMs),
                int(pg.framesPerS),
              ],
            ],
          ),
        );
      }
      out.push(
        '  /api/gateways: sequential requests after 10 warm-up ones. Page: from navigation until it knows every gateway and',
      );
      out.push(
        '  shows the first page of rows, then long tasks (main thread busy > 50 ms) and frames per second while statuses',
      );
      out.push('  keep arriving. Information, not a target.');
    }
  }

  if (r.profile) {
    out.push('');
    if (failed(r.profile)) out.push(`Gateway CPU profile: FAILED: ${r.profile.error}`);
    else {
      const pr = r.profile;
      out.push(
        `Gateway CPU profile: main thread during a separate ${fixed(pr.wallMs / 1000)} s burst under --cpu-prof, busy ${pr.busyPercent.toFixed(0)}% of the time`,
      );
      out.push(
        table(
          ['self time by area', 'ms', '%'],
          pr.areas.map((a) => [a.name, int(a.selfMs), fixed(a.percent)]),
        ),
      );
      out.push(
        table(
          ['self time by function', 'ms', '%'],
          pr.functions.map((f) => [f.name, int(f.selfMs), fixed(f.percent)]),
        ),
      );
      out.push(`  profile: ${pr.file}`);
    }
  }

  out.push('');
  out.push('Targets');
  for (const t of r.targets) out.push(formatTarget(t));
  out.push('');
  out.push(`results: ${resultsFile}`);
  return `${out.join('\n')}\n`;
}
