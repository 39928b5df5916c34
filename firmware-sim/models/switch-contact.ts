/**
 * A contact that opens and closes at random (a door, a guard, a valve end switch): it stays in
 * each position for an exponentially distributed time around that position's mean. 1 is open.
 */
import type { Random } from '../random.js';
import type { MetricInfo, Model } from './model.js';

export interface SwitchContactOptions {
  /** Mean time open (simulated ms). */
  meanOpenMs: number;
  /** Mean time closed (simulated ms). */
  meanClosedMs: number;
}

export const SWITCH_METRICS: readonly MetricInfo[] = [{ name: 'state', decimals: 0 }];

export class SwitchContact implements Model {
  readonly metrics = SWITCH_METRICS;
  private open = false;
  /** Simulated ms left until the next change. */
  private left: number;

  constructor(
    private readonly o: SwitchContactOptions,
    private readonly random: Random,
  ) {
    this.left = random.exponential(o.meanClosedMs);
  }

  step(dtMs: number): Record<string, number> {
    this.left -= dtMs;
    while (this.left <= 0) {
      this.open = !this.open;
      this.left += this.random.exponential(this.open ? this.o.meanOpenMs : this.o.meanClosedMs);
    }
    return { state: this.open ? 1 : 0 };
  }
}
