/**
 * The part of a simulated device that does not depend on how it is wired: on each tick it steps
 * its physical model, reads the sensors (rounded to the device's resolution), applies the faults
 * that change values (stuck, spike), sends several samples at once in a burst, and stamps each
 * sample with the device's own clock, which may be skewed. Pure apart from the clock reading it
 * is given: a seed and a clock replay it exactly.
 */
import type { FaultConfig } from './config.js';
import type { FaultPlan, FaultTick } from './faults.js';
import type { MetricInfo, Model } from './models/model.js';
import type { Random } from './random.js';

export interface Sample {
  /** Event time by the device's clock, epoch ms. */
  ts: number;
  /** Metric name -> value, at the device's resolution. */
  values: Record<string, number>;
  /** The metric a spike hit, if one did. */
  spiked?: string;
}

export interface Tick {
  /** 0, 1, 2 … */
  k: number;
  faults: FaultTick;
  /** One sample, or `count` of them in a burst. Computed during a dropout too (nothing is sent). */
  samples: Sample[];
}

export interface FirmwareOptions {
  intervalMs: number;
  /** Simulated ms per real ms. */
  timeScale: number;
}

type ClockSkew = Extract<FaultConfig, { type: 'clock_skew' }>;

export class Firmware {
  private k = 0;
  private frozen: Record<string, number> | undefined;
  private skewSince: number | undefined;

  constructor(
    readonly model: Model,
    private readonly plan: FaultPlan,
    private readonly o: FirmwareOptions,
    /** Picks the metric a spike hits. */
    private readonly random: Random,
  ) {}

  get metrics(): readonly MetricInfo[] {
    return this.model.metrics;
  }

  /** The next tick, with `wallNow` the real time (epoch ms) it happens at. */
  tick(wallNow: number): Tick {
    const faults = this.plan.next();
    const burst = faults.active.get('burst');
    const count = burst?.type === 'burst' ? burst.count : 1;
    const dt = (this.o.intervalMs * this.o.timeScale) / count;
    const skew = faults.active.get('clock_skew') as ClockSkew | undefined;
    if (!skew) this.skewSince = undefined;
    else this.skewSince ??= wallNow;
    const stuck = faults.active.has('stuck');
    if (!stuck) this.frozen = undefined;
    const spike = faults.active.get('spike');

    const samples: Sample[] = [];
    for (let i = 0; i < count; i++) {
      const measured = this.read(this.model.step(dt));
      if (stuck) this.frozen ??= measured;
      const values = stuck ? { ...this.frozen! } : measured;
      const wall = wallNow - ((count - 1 - i) * this.o.intervalMs) / count;
      const sample: Sample = { ts: Math.round(skew ? this.skewed(wall, skew) : wall), values };
      if (spike?.type === 'spike' && i === 0) {
        const m = this.metrics[this.random.int(this.metrics.length)]!;
        values[m.name] = round(values[m.name]! * spike.factor, m.decimals);
        sample.spiked = m.name;
      }
      samples.push(sample);
    }
    return { k: this.k++, faults, samples };
  }

  private read(raw: Record<string, number>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const m of this.metrics) out[m.name] = round(raw[m.name]!, m.decimals);
    return out;
  }

  private skewed(wall: number, s: ClockSkew): number {
    return wall + s.offset + (wall - this.skewSince!) * (s.rate - 1);
  }
}

function round(v: number, decimals: number): number {
  const f = 10 ** decimals;
  // `+ 0` turns -0 into 0, which a device would never print.
  return Math.round(v * f) / f + 0;
}
