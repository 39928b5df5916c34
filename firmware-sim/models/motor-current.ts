/**
 * An induction motor's phase current: the no-load (magnetising) current plus a share of the rated
 * current that follows the load, plus the extra torque a worn bearing's friction costs. Measured
 * with the small noise of a current transformer.
 */
import type { Random } from '../random.js';

export interface MotorCurrentOptions {
  /** A, at no load. */
  noLoadA: number;
  /** A, at rated load. */
  ratedA: number;
  /** A drawn on top at bearing failure (friction). */
  frictionA: number;
  /** A, standard deviation of one measurement. */
  noiseA: number;
}

export class MotorCurrent {
  constructor(
    private readonly o: MotorCurrentOptions,
    private readonly random: Random,
  ) {}

  /** `load` 0..1, `wear` 0 (new bearing) .. 1 (failed). */
  measure(load: number, wear: number): number {
    const o = this.o;
    const amps = o.noLoadA + (o.ratedA - o.noLoadA) * load + o.frictionA * wear;
    return Math.max(0, amps + o.noiseA * this.random.normal());
  }
}
