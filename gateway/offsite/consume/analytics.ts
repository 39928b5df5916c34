/**
 * Cloud-side analytics of the example consumer (`sensorgate consume`): per series
 * (gateway/sensor/metric) rolling statistics over a window of event time (mean, RMS, least-squares
 * trend), an exponentially smoothed level, and for the wear metric (vibration RMS) a wear state:
 * `alarm` once the smoothed level crosses the threshold, `warning` once its trend projects the
 * crossing within the horizon. Pure: records in, state and events out.
 *
 * What the gateway's contract makes possible here: readings are deduplicated on (gateway, seq)
 * (at-least-once delivery may repeat a reading after a crash, always with the same seq, and a
 * sensor's readings arrive in order), and event times are the devices' own. What the consumer must
 * still do itself: a single spike (a loose connector) must not raise an alarm, so a wear metric's
 * value far outside the recent spread is set aside unless the next ones confirm a new level.
 */
import type { ReadingRecord as FullRecord } from '../../ingest/record.js';

/** What the analytics need of a readings-topic record (docs/reference/kafka-records.md). */
export type ReadingRecord = Pick<FullRecord, 'gateway' | 'sensor' | 'metric' | 'value' | 'unit' | 'ts' | 'seq'>;

export interface WearOptions {
  /** Metric names that measure wear (e.g. vib_rms). */
  metrics: readonly string[];
  /** Smoothed level at which the alarm is raised (e.g. 7.1 mm/s, ISO 10816 zone C/D). */
  threshold: number;
  /** Warn when the trend reaches the threshold within this much event time. */
  horizonMs: number;
}

export interface AnalyticsOptions {
  /** Rolling window for mean, RMS and trend, in event time. */
  windowMs: number;
  /** Time constant of the smoothed level, in event time. */
  smoothingMs: number;
  wear: WearOptions;
  /** Samples kept per series at most (bounds memory for fast sensors). */
  maxSamples: number;
}

export type WearState = 'ok' | 'warning' | 'alarm';

export interface SeriesStats {
  key: string;
  gateway: string;
  sensor: string;
  metric: string;
  unit?: string;
  /** Samples in the window, and seen in all. */
  n: number;
  total: number;
  mean: number;
  rms: number;
  /** Least-squares slope over the window, per hour of event time. */
  slopePerHour: number;
  smoothed: number;
  last: number;
  lastTs: number;
  /** Values set aside as spikes (wear metrics only). */
  outliers: number;
  /** Every value in a full window identical: a frozen sensor. */
  stuck: boolean;
  wear?: {
    state: WearState /** Event time until the trend reaches the threshold, when it rises. */;
    projectedMs: number | null;
  };
}

export interface WearEvent {
  key: string;
  state: WearState;
  previous: WearState;
  ts: number;
  smoothed: number;
  threshold: number;
  projectedMs: number | null;
}

/** A value this many mean deviations from the smoothed level is a spike … */
const OUTLIER_DEVIATIONS = 6;
/** … unless this many in a row say the level really moved (a replaced bearing). */
const LEVEL_SHIFT_RUN = 3;
/** Samples, and share of the window covered, before a trend is trusted. */
const MIN_SAMPLES = 10;
const MIN_WINDOW_SHARE = 0.5;
/** States clear with some margin, so a level at the threshold or a noisy trend does not flap. */
const LEVEL_HYSTERESIS = 0.1;
const PROJECTION_HYSTERESIS = 0.5;

class Series {
  readonly ts: number[] = [];
  readonly values: number[] = [];
  total = 0;
  outliers = 0;
  smoothed = NaN;
  /** Exponentially weighted mean absolute deviation from `smoothed`. */
  deviation = 0;
  lastTs = -Infinity;
  last = NaN;
  shiftRun = 0;
  state: WearState = 'ok';
  projectedMs: number | null = null;

  constructor(
    readonly gateway: string,
    readonly sensor: string,
    readonly metric: string,
    public unit: string | undefined,
  ) {}
}

export class Analytics {
  private readonly series = new Map<string, Series>();
  /** Highest seq seen per gateway/sensor: a sensor's readings share a partition, in seq order. */
  private readonly lastSeq = new Map<string, number>();
  duplicates = 0;

  constructor(private readonly o: AnalyticsOptions) {}

  /** Take one reading; returns a wear event when a wear metric's state changes. */
  add(r: ReadingRecord): WearEvent | undefined {
    const sensorKey = `${r.gateway}/${r.sensor}`;
    const seen = this.lastSeq.get(sensorKey);
    if (seen !== undefined && r.seq <= seen) {
      this.duplicates++;
      return undefined;
    }
    this.lastSeq.set(sensorKey, r.seq);

    const key = `${sensorKey}/${r.metric}`;
    let s = this.series.get(key);
    if (!s) {
      s = new Series(r.gateway, r.sensor, r.metric, r.unit);
      this.series.set(key, s);
    }
    if (r.unit !== undefined) s.unit = r.unit;
    s.total++;
    s.last = r.value;
    const wear = this.o.wear.metrics.includes(r.metric);
    if (!this.smooth(s, r.value, r.ts, wear)) {
      s.outliers++;
      return undefined;
    }
    s.ts.push(r.ts);
    s.values.push(r.value);
    const newest = Math.max(s.lastTs, r.ts);
    while (s.ts.length > this.o.maxSamples || (s.ts.length > 0 && s.ts[0]! < newest - this.o.windowMs)) {
      s.ts.shift();
      s.values.shift();
    }
    s.lastTs = newest;
    return wear ? this.judgeWear(key, s) : undefined;
  }

  stats(): SeriesStats[] {
    return [...this.series.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, s]) => {
        const n = s.values.length;
        const mean = n ? s.values.reduce((a, v) => a + v, 0) / n : NaN;
        const rms = n ? Math.sqrt(s.values.reduce((a, v) => a + v * v, 0) / n) : NaN;
        const full = n >= MIN_SAMPLES && s.ts[n - 1]! - s.ts[0]! >= MIN_WINDOW_SHARE * this.o.windowMs;
        const out: SeriesStats = {
          key,
          gateway: s.gateway,
          sensor: s.sensor,
          metric: s.metric,
          unit: s.unit,
          n,
          total: s.total,
          mean,
          rms,
          slopePerHour: slope(s.ts, s.values) * 3_600_000,
          smoothed: s.smoothed,
          last: s.last,
          lastTs: s.lastTs,
          outliers: s.outliers,
          stuck: full && s.values.every((v) => v === s.values[0]),
        };
        if (this.o.wear.metrics.includes(s.metric)) out.wear = { state: s.state, projectedMs: s.projectedMs };
        return out;
      });
  }

  /**
   * Update the smoothed level; false when the value is a spike to set aside. Only wear metrics
   * are filtered: there a spike would raise a false alarm, while on an on/off signal (a door, a
   * pump running) every change would look like one.
   */
  private smooth(s: Series, value: number, ts: number, robust: boolean): boolean {
    if (Number.isNaN(s.smoothed)) {
      s.smoothed = value;
      return true;
    }
    // The spread has a floor (1% of the level): after a frozen stretch any change would look infinite.
    const spread = Math.max(s.deviation, 0.01 * Math.abs(s.smoothed), 1e-9);
    const far = robust && s.total > MIN_SAMPLES && Math.abs(value - s.smoothed) > OUTLIER_DEVIATIONS * spread;
    if (far && ++s.shiftRun < LEVEL_SHIFT_RUN) return false;
    if (far) {
      // Confirmed: the level moved. Start again from here rather than crawl towards it.
      s.smoothed = value;
      s.deviation = Math.abs(value) * 0.05;
      s.ts.length = 0;
      s.values.length = 0;
      s.shiftRun = 0;
      return true;
    }
    s.shiftRun = 0;
    const alpha = -Math.expm1(-Math.max(ts - s.lastTs, 1) / this.o.smoothingMs);
    s.deviation += alpha * (Math.abs(value - s.smoothed) - s.deviation);
    s.smoothed += alpha * (value - s.smoothed);
    return true;
  }

  private judgeWear(key: string, s: Series): WearEvent | undefined {
    const { threshold, horizonMs } = this.o.wear;
    const n = s.values.length;
    const trusted = n >= MIN_SAMPLES && s.ts[n - 1]! - s.ts[0]! >= MIN_WINDOW_SHARE * this.o.windowMs;
    const perMs = trusted ? slope(s.ts, s.values) : 0;
    s.projectedMs = perMs > 0 && s.smoothed < threshold ? (threshold - s.smoothed) / perMs : null;
    const previous = s.state;
    let state: WearState;
    if (s.smoothed >= threshold || (previous === 'alarm' && s.smoothed >= threshold * (1 - LEVEL_HYSTERESIS)))
      state = 'alarm';
    else if (
      s.projectedMs !== null &&
      (s.projectedMs <= horizonMs || (previous !== 'ok' && s.projectedMs <= horizonMs * (1 + PROJECTION_HYSTERESIS)))
    )
      state = 'warning';
    else state = 'ok';
    s.state = state;
    if (state === previous) return undefined;
    return { key, state, previous, ts: s.lastTs, smoothed: s.smoothed, threshold, projectedMs: s.projectedMs };
  }
}

/** Least-squares slope of values over times (per ms); 0 without spread in time. */
function slope(ts: readonly number[], values: readonly number[]): number {
  const n = ts.length;
  if (n < 2) return 0;
  const t0 = ts[0]!;
  let st = 0;
  let sv = 0;
  for (let i = 0; i < n; i++) {
    st += ts[i]! - t0;
    sv += values[i]!;
  }
  const mt = st / n;
  const mv = sv / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const dt = ts[i]! - t0 - mt;
    num += dt * (values[i]! - mv);
    den += dt * dt;
  }
  return den > 0 ? num / den : 0;
}
