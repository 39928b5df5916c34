/**
 * When a device's faults happen, tick by tick: random ones drawn from the device's seeded stream
 * (one stream per fault, so adding a fault changes no other), scheduled ones at their tick. Time
 * is counted in ticks of the device (tick k is k·intervalMs after its start), not read from the
 * clock, so a seeded run puts every fault on the same sample whatever the machine's load.
 */
import type { FaultConfig, FaultType } from './config.js';
import type { Random } from './random.js';

/** Faults that hold for a duration; the others hit a single tick. */
const LASTING: ReadonlySet<FaultType> = new Set(['burst', 'dropout', 'stuck', 'unplug', 'disconnect', 'clock_skew']);

export interface FaultTick {
  /** Faults in effect on this tick, each with its config. */
  active: ReadonlyMap<FaultType, FaultConfig>;
  /** Occurrences that begin on this tick. */
  started: readonly FaultType[];
  /** Lasting faults in effect on the previous tick and no longer. */
  ended: readonly FaultType[];
}

interface Schedule {
  spec: FaultConfig;
  random: Random;
  /** First tick, and ticks between occurrences (scheduled faults). */
  first?: number;
  period?: number;
  /** Ticks one occurrence lasts. */
  length: number;
  /** Active up to this tick (exclusive). */
  until: number;
}

export class FaultPlan {
  private readonly schedules: Schedule[];
  private k = 0;
  private previous = new Set<FaultType>();

  constructor(specs: readonly FaultConfig[], intervalMs: number, random: Random) {
    const ticks = (ms: number) => Math.max(1, Math.round(ms / intervalMs));
    this.schedules = specs.map((spec, i) => {
      const duration = 'duration' in spec ? spec.duration : undefined;
      const s: Schedule = {
        spec,
        random: random.fork(`fault-${i}-${spec.type}`),
        length: LASTING.has(spec.type) && duration !== undefined ? ticks(duration) : 1,
        until: 0,
      };
      if (spec.probability === undefined) {
        if (spec.at === undefined && spec.every === undefined) {
          s.until = Infinity; // always
        } else {
          s.first = spec.at !== undefined ? Math.round(spec.at / intervalMs) : ticks(spec.every!);
          if (spec.every !== undefined) s.period = ticks(spec.every);
        }
      }
      return s;
    });
  }

  /** The faults of the next tick (0, 1, 2 …). */
  next(): FaultTick {
    const k = this.k++;
    const active = new Map<FaultType, FaultConfig>();
    const started: FaultType[] = [];
    for (const s of this.schedules) {
      const begins = k === 0 && s.until === Infinity ? true : k >= s.until && this.triggers(s, k);
      if (begins) {
        if (s.until !== Infinity) s.until = k + s.length;
        started.push(s.spec.type);
      }
      if (k < s.until && !active.has(s.spec.type)) active.set(s.spec.type, s.spec);
    }
    const ended = [...this.previous].filter((t) => LASTING.has(t) && !active.has(t));
    this.previous = new Set(active.keys());
    return { active, started, ended };
  }

  private triggers(s: Schedule, k: number): boolean {
    if (s.spec.probability !== undefined) return s.random.next() < s.spec.probability;
    if (s.first === undefined || k < s.first) return false;
    return k === s.first || (s.period !== undefined && (k - s.first) % s.period === 0);
  }
}
