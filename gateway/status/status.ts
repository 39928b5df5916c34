/**
 * What the gateway knows about itself: counters and gauges (Prometheus) and the GatewayStatus
 * document, both in docs/reference/status-and-metrics.md. Every stage reports here; nothing here
 * drives the flow.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { DriverState } from '../../drivers/driver.js';
import type { LiveBufferStats } from '../buffer/buffer.js';
import { hostFacts } from './host.js';
import { MAX_PROBLEMS } from './problem-limit.js';
import type { GatewayStatus, Problem, SourceStatus } from './status-document.js';

/**
 * The stable problem codes. Add codes freely; never rename or reuse one.
 *  uplink_down       no connection to Kafka
 *  uplink_stalled    connected, a backlog waits, and nothing was acknowledged for a while
 *  source_down       a source is down (detail names it); one entry per source, keyed `source_down:<id>`
 *  buffer_corrupt    the buffer file was found damaged and set aside (detail: salvaged and lost)
 *  disk_full         readings cannot be stored (the file system is full)
 *  buffer_io_error   readings cannot be stored (the buffer's disk reports I/O errors)
 *  buffer_near_full  over 80 % of the buffer's cap
 *  clock_unsynced    the wall clock is not synchronised (readings carry clockSynced: false)
 *  more_problems     the list is full (MAX_PROBLEMS): how many more problems there are, by code
 */
export type ProblemCode =
  | 'uplink_down'
  | 'uplink_stalled'
  | 'source_down'
  | 'buffer_corrupt'
  | 'disk_full'
  | 'buffer_io_error'
  | 'buffer_near_full'
  | 'clock_unsynced'
  | 'more_problems'
  | (string & {});

export interface StatusOptions {
  /** gateway.dataDir: the filesystem whose free space is reported. */
  dataDir?: string;
  heartbeatIntervalMs?: number;
  /** buffer.maxBytes: buffer_near_full is raised beyond NEAR_FULL of it. */
  bufferMaxBytes?: number;
}

/** Drop reasons known in advance: exported at 0 so that alerts see the series before the first drop. */
export const DROP_REASONS = ['drop_oldest', 'reject_new', 'disk_full', 'corrupt'] as const;
/** Share of buffer.maxBytes beyond which buffer_near_full is raised. */
export const NEAR_FULL = 0.8;

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;

/** Upper bounds of the produce-latency buckets, in seconds: LAN round trips to LTE outages. */
const PRODUCE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Events per second over the last minute, counted in one-second buckets of a 60-slot ring. Time
 * is monotonic milliseconds (performance.now): a wall-clock step must not empty or freeze a rate.
 */
export class RateWindow {
  private readonly counts = new Float64Array(60);
  private readonly seconds = new Float64Array(60).fill(-1);

  constructor(private readonly since: number = performance.now()) {}

  add(n: number, now = performance.now()): void {
    const s = Math.floor(now / 1000);
    const i = s % 60;
    if (this.seconds[i] !== s) {
      this.seconds[i] = s;
      this.counts[i] = 0;
    }
    this.counts[i]! += n;
  }

  perSecond(now = performance.now()): number {
    const s = Math.floor(now / 1000);
    let sum = 0;
    for (let i = 0; i < 60; i++) {
      const at = this.seconds[i]!;
      if (at > s - 60 && at <= s) sum += this.counts[i]!;
    }
    // Right after start, average over the time there was, not over a minute of zeros.
    const span = Math.min(60, Math.max(1, (now - this.since) / 1000));
    return Math.round((sum / span) * 100) / 100;
  }
}

interface SourceEntry {
  status: Omit<SourceStatus, 'ratePerS'>;
  rate: RateWindow;
}

export class Status {
  readonly registry = new Registry();
  readonly heartbeatIntervalMs: number;
  private readonly started = Date.now();
  /** Uptime and rates run on the monotonic clock; wall-clock times here are for display only. */
  private readonly startedMono = performance.now();
  private readonly sources = new Map<string, SourceEntry>();
  /** The transport's own view (connected to Kafka) and the forwarder's (acknowledgements flow). */
  private transportUp = false;
  private stalled = false;
  private readonly uplink = {
    connected: false,
    sinceTs: this.started,
    lastAckTs: null as number | null,
    lastError: null as string | null,
    lastErrorTs: null as number | null,
    sent: 0,
    dropped: {} as Record<string, number>,
  };
  private readonly ingestRate = new RateWindow(this.startedMono);
  private readonly sendRate = new RateWindow(this.startedMono);
  private readonly changeListeners = new Set<() => void>();
  /** Current problems by key: the code, or `code:subject` where one code can hold several times. */
  private readonly problems = new Map<string, Problem>();
  /** Inside one state change (several facts updated together), listeners hear of it once. */
  private batching = false;
  private changedInBatch = false;

  private readonly ingestedTotal = new Counter({
    name: 'sensorgate_readings_ingested_total',
    help: 'Readings made durable in the buffer',
    labelNames: ['source'],
    registers: [this.registry],
  });
  private readonly rejectedTotal = new Counter({
    name: 'sensorgate_readings_rejected_total',
    help: 'Input refused and quarantined',
    labelNames: ['source', 'reason'],
    registers: [this.registry],
  });
  private readonly sentTotal = new Counter({
    name: 'sensorgate_readings_sent_total',
    help: 'Readings acknowledged by Kafka',
    registers: [this.registry],
  });
  private readonly droppedTotal = new Counter({
    name: 'sensorgate_readings_dropped_total',
    help: 'Readings given up by policy',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly salvagedTotal = new Counter({
    name: 'sensorgate_buffer_salvaged_total',
    help: 'Readings recovered from a damaged buffer file',
    registers: [this.registry],
  });
  private readonly commitsTotal = new Counter({
    name: 'sensorgate_buffer_commits_total',
    help: 'Buffer transactions committed by ingest (each one fsync with synchronous FULL)',
    registers: [this.registry],
  });
  private readonly connectedGauge = new Gauge({
    name: 'sensorgate_uplink_connected',
    help: '1 while the Kafka producer is connected',
    registers: [this.registry],
  });
  private readonly sourceDownTotal = new Counter({
    name: 'sensorgate_source_down_total',
    help: 'Times a source went down (connection lost, device gone, nothing answering)',
    labelNames: ['source'],
    registers: [this.registry],
  });
  private readonly sourceUpGauge = new Gauge({
    name: 'sensorgate_source_up',
    help: '1 while the source is up (connected, port open)',
    labelNames: ['source'],
    registers: [this.registry],
  });
  private readonly lastReadingGauge = new Gauge({
    name: 'sensorgate_source_last_reading_timestamp_seconds',
    help: 'Event time of the last reading taken in from the source (0: none yet)',
    labelNames: ['source'],
    registers: [this.registry],
  });
  private readonly produceSeconds = new Histogram({
    name: 'sensorgate_uplink_produce_seconds',
    help: 'Time from handing a batch to Kafka until it is acknowledged (acks=all)',
    buckets: PRODUCE_BUCKETS,
    registers: [this.registry],
  });

  constructor(
    readonly gateway: string,
    readonly version: string,
    private readonly clock: { bootId: string; synced(): boolean },
    private readonly bufferStats: () => LiveBufferStats,
    private readonly opts: StatusOptions = {},
  ) {
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    // One buffer query per scrape sets all three gauges. prom-client collects in registration
    // order, so the depth gauge (whose collect does the query) is registered first.
    const gauges: { bytes?: Gauge; oldest?: Gauge } = {};
    new Gauge({
      name: 'sensorgate_buffer_depth',
      help: 'Readings waiting in the buffer',
      registers: [this.registry],
      collect() {
        const s = bufferStats();
        this.set(s.depth);
        gauges.bytes!.set(s.bytes);
        gauges.oldest!.set(ageSeconds(s.oldestTs, Date.now()) ?? 0);
      },
    });
    gauges.bytes = new Gauge({
      name: 'sensorgate_buffer_bytes',
      help: 'Bytes of readings waiting in the buffer',
      registers: [this.registry],
    });
    gauges.oldest = new Gauge({
      name: 'sensorgate_buffer_oldest_age_seconds',
      help: 'Age of the oldest unsent reading',
      registers: [this.registry],
    });
    this.connectedGauge.set(0);
    for (const reason of DROP_REASONS) this.droppedTotal.inc({ reason }, 0);
    this.salvagedTotal.inc(0);
    new Gauge({
      name: 'sensorgate_build_info',
      help: 'Always 1; the version of the running gateway as a label',
      labelNames: ['version'],
      registers: [this.registry],
    }).set({ version }, 1);
    // The event-loop lag is sampled every 100 ms, not prom-client's 10: a timer 100 times a
    // second cost an idle gateway about 0.35 % of a core, and 100 ms still shows a stalled loop.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
  }

  /**
   * Called when a source changes state or the uplink connects or disconnects (the heartbeat
   * publishes at once then, rather than at its next tick).
   */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  addSource(id: string, driver: string): void {
    this.sources.set(id, {
      status: { id, driver, state: 'starting', lastReadingTs: null, readings: 0, rejected: 0, rejectedByReason: {} },
      rate: new RateWindow(),
    });
    this.ingestedTotal.inc({ source: id }, 0);
    this.sourceUpGauge.set({ source: id }, 0);
    this.lastReadingGauge.set({ source: id }, 0);
    this.sourceDownTotal.inc({ source: id }, 0);
  }

  sourceState(id: string, state: DriverState, detail?: string): void {
    const s = this.sources.get(id)?.status;
    if (!s) return;
    const changed = s.state !== state;
    s.state = state;
    s.detail = detail;
    this.sourceUpGauge.set({ source: id }, state === 'up' ? 1 : 0);
    if (changed && state === 'down') this.sourceDownTotal.inc({ source: id });
    this.once(() => {
      this.problem('source_down', state === 'down' ? `${id}: ${detail ?? 'down'}` : null, id);
      if (changed) this.changed();
    });
  }

  ingested(source: string, n: number, lastTs: number): void {
    if (n === 0) return;
    this.ingestedTotal.inc({ source }, n);
    this.ingestRate.add(n);
    const s = this.sources.get(source);
    if (s) {
      s.status.readings += n;
      s.status.lastReadingTs = lastTs;
      s.rate.add(n);
    }
    this.lastReadingGauge.set({ source }, lastTs / 1000);
  }

  /** Readings recovered from a damaged buffer file. */
  salvaged(n: number): void {
    this.salvagedTotal.inc(n);
  }

  rejected(source: string, reason: string, n = 1): void {
    this.rejectedTotal.inc({ source, reason }, n);
    const s = this.sources.get(source)?.status;
    if (s) {
      s.rejected += n;
      s.rejectedByReason[reason] = (s.rejectedByReason[reason] ?? 0) + n;
    }
  }

  committed(): void {
    this.commitsTotal.inc();
  }

  dropped(reason: string, n: number): void {
    if (n === 0) return;
    this.droppedTotal.inc({ reason }, n);
    this.uplink.dropped[reason] = (this.uplink.dropped[reason] ?? 0) + n;
  }

  sent(n: number): void {
    this.sentTotal.inc(n);
    this.sendRate.add(n);
    this.uplink.sent += n;
    this.uplink.lastAckTs = Date.now();
  }

  /** One produce request to Kafka took this long, from send to acknowledgement. */
  produceLatency(seconds: number): void {
    this.produceSeconds.observe(seconds);
  }

  /** The Kafka connection came up or went down (error: why it went down). */
  uplinkState(connected: boolean, error?: string): void {
    this.once(() => {
      this.transportUp = connected;
      if (!connected) this.stalled = false; // down says more than stalled
      if (error !== undefined) {
        this.uplink.lastError = error;
        this.uplink.lastErrorTs = Date.now();
      }
      this.problem('uplink_down', connected ? null : (this.uplink.lastError ?? 'not connected to Kafka'));
      if (!connected) this.problem('uplink_stalled', null);
      this.setConnected();
    });
  }

  /**
   * Connected, yet readings wait and Kafka acknowledged nothing for a while (a hung broker, a
   * black-holed link): the uplink is not connected in any sense that matters to an operator.
   */
  uplinkStalled(detail: string | null): void {
    this.once(() => {
      this.stalled = detail !== null && this.transportUp;
      this.problem('uplink_stalled', this.stalled ? detail : null);
      this.setConnected();
    });
  }

  private setConnected(): void {
    const connected = this.transportUp && !this.stalled;
    const changed = this.uplink.connected !== connected;
    this.uplink.connected = connected;
    this.connectedGauge.set(connected ? 1 : 0);
    if (changed) {
      this.uplink.sinceTs = Date.now();
      this.changed();
    }
  }

  /**
   * Re-derive the problems that follow from facts nobody reports as events: the clock and the
   * buffer's fill level. Called periodically by the gateway (and cheap: one buffer stats query).
   */
  refresh(): void {
    this.problem(
      'clock_unsynced',
      this.clock.synced()
        ? null
        : 'the system clock is not synchronised (no NTP yet): readings carry clockSynced: false',
    );
    const cap = this.opts.bufferMaxBytes;
    if (cap) {
      const bytes = this.bufferStats().bytes;
      this.problem(
        'buffer_near_full',
        bytes > NEAR_FULL * cap ? `${Math.round((bytes / cap) * 100)} % of buffer.maxBytes used` : null,
      );
    }
  }

  /** Ready to take readings in durably: the buffer can store and at least one source is up. */
  ready(): boolean {
    if (this.hasProblem('disk_full')) return false;
    for (const { status } of this.sources.values()) if (status.state === 'up') return true;
    return false;
  }

  /**
   * Raise (detail given) or clear (null) a problem. `key` defaults to the code; give a subject to
   * hold one code several times (source_down per source). Raising again updates the detail but
   * keeps `since`. Listeners hear of every raise and clear, not of detail updates.
   */
  problem(code: ProblemCode, detail: string | null, subject?: string): void {
    const key = subject === undefined ? code : `${code}:${subject}`;
    const had = this.problems.get(key);
    if (detail === null) {
      if (had) {
        this.problems.delete(key);
        this.changed();
      }
      return;
    }
    if (had) {
      had.detail = detail;
      return;
    }
    this.problems.set(key, { code, detail, since: Date.now() });
    this.changed();
  }

  hasProblem(code: ProblemCode): boolean {
    for (const p of this.problems.values()) if (p.code === code) return true;
    return false;
  }

  snapshot(): GatewayStatus {
    const b = this.bufferStats();
    const now = Date.now();
    const rates = { ingestPerS: this.ingestRate.perSecond(), sendPerS: this.sendRate.perSecond() };
    const shrinking = this.uplink.connected ? rates.sendPerS - rates.ingestPerS : 0;
    return {
      gateway: this.gateway,
      version: this.version,
      ts: now,
      uptimeS: Math.round((performance.now() - this.startedMono) / 1000),
      bootId: this.clock.bootId,
      clockSynced: this.clock.synced(),
      running: true,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      buffer: {
        depth: b.depth,
        bytes: b.bytes,
        oldestTs: b.oldestTs,
        oldestAgeS: ageSeconds(b.oldestTs, now),
        drainEtaS: b.depth === 0 ? 0 : shrinking > 0 ? Math.round(b.depth / shrinking) : null,
        nextSeq: b.nextSeq,
        seqReserved: b.seqReserved,
      },
      uplink: { ...this.uplink, dropped: { ...this.uplink.dropped } },
      rates,
      sources: [...this.sources.values()].map(({ status: s, rate }) => ({
        ...s,
        rejectedByReason: { ...s.rejectedByReason },
        ratePerS: rate.perSecond(),
      })),
      problems: this.problemList(),
      host: hostFacts(this.opts.dataDir),
    };
  }

  /**
   * The problems as the status lists them. Readers refuse a status with more than MAX_PROBLEMS,
   * and a gateway with hundreds of sources down must still be heard: gateway-wide problems come
   * first, then one per subject, and beyond the cap the rest are one `more_problems` entry.
   */
  private problemList(): Problem[] {
    const keys = [...this.problems.keys()];
    const ordered = [...keys.filter((k) => !k.includes(':')), ...keys.filter((k) => k.includes(':'))].map((k) => ({
      ...this.problems.get(k)!,
    }));
    if (ordered.length <= MAX_PROBLEMS) return ordered;
    const rest = ordered.slice(MAX_PROBLEMS - 1);
    const byCode = new Map<string, number>();
    for (const p of rest) byCode.set(p.code, (byCode.get(p.code) ?? 0) + 1);
    const counts = [...byCode].map(([code, n]) => `${n} ${code}`).join(', ');
    return [
      ...ordered.slice(0, MAX_PROBLEMS - 1),
      {
        code: 'more_problems',
        detail: `${rest.length} more problems not listed: ${counts}`.slice(0, 2000),
        since: Math.min(...rest.map((p) => p.since)),
      },
    ];
  }

  private changed(): void {
    if (this.batching) {
      this.changedInBatch = true;
      return;
    }
    for (const l of this.changeListeners) l();
  }

  private once(update: () => void): void {
    this.batching = true;
    this.changedInBatch = false;
    try {
      update();
    } finally {
      this.batching = false;
    }
    if (this.changedInBatch) this.changed();
  }
}

/** Seconds since `ts`, never negative (a clock step back must not show a negative age). */
function ageSeconds(ts: number | null, now: number): number | null {
  return ts === null ? null : Math.max(0, Math.round(now - ts) / 1000);
}
