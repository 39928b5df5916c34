/**
 * The load a machine runs at, as a fraction of rated load: a mean-reverting random walk
 * (Ornstein-Uhlenbeck), which is how production load wanders around its plan. Stepped exactly
 * (not by Euler), so the statistics do not depend on the step size.
 */
import type { Random } from '../random.js';

export interface LoadProfileOptions {
  /** Long-run mean load, 0..1. */
  mean: number;
  /** Stationary standard deviation around the mean. */
  sd: number;
  /** How long a deviation takes to decay (simulated ms). */
  correlationMs: number;
}

const MIN_LOAD = 0.05;

export class LoadProfile {
  private x: number;

  constructor(
    private readonly o: LoadProfileOptions,
    private readonly random: Random,
  ) {
    this.x = o.mean;
  }

  get value(): number {
    return this.x;
  }

  step(dtMs: number): number {
    const decay = Math.exp(-dtMs / this.o.correlationMs);
    const x =
      this.o.mean + (this.x - this.o.mean) * decay + this.o.sd * Math.sqrt(1 - decay * decay) * this.random.normal();
    this.x = Math.min(1, Math.max(MIN_LOAD, x));
    return this.x;
  }
}
