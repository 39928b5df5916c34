/**
 * A pump on a duty cycle (a dosing or coolant pump switched by a controller): it runs for `duty`
 * of every `periodMs` (its phase from the seed) and delivers its nominal flow with some
 * turbulence while running, nothing while stopped. A flow meter on its line turns the flow into
 * pulses (see the GPIO device).
 */
import type { Random } from '../random.js';
import type { MetricInfo, Model } from './model.js';

export interface PumpFlowOptions {
  /** Nominal flow while running, L/min. */
  flowLpm: number;
  /** Length of one on/off cycle (simulated ms). */
  periodMs: number;
  /** Share of the cycle it runs, 0..1. */
  duty: number;
  /** Relative standard deviation of the flow while running. */
  noise: number;
}

export const PUMP_METRICS: readonly MetricInfo[] = [
  { name: 'flow', unit: 'L/min', decimals: 3 },
  { name: 'running', decimals: 0 },
];

export class PumpFlow implements Model {
  readonly metrics = PUMP_METRICS;
  private t: number;

  constructor(
    private readonly o: PumpFlowOptions,
    private readonly random: Random,
  ) {
    this.t = random.next() * o.periodMs;
  }

  step(dtMs: number): Record<string, number> {
    this.t = (this.t + dtMs) % this.o.periodMs;
    const running = this.t < this.o.duty * this.o.periodMs;
    const flow = running ? Math.max(0, this.o.flowLpm * (1 + this.o.noise * this.random.normal())) : 0;
    return { flow, running: running ? 1 : 0 };
  }
}
