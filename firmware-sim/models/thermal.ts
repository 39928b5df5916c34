/**
 * Temperatures: a first-order thermal lag (a bearing housing, a sensor in its well) and the
 * ambient temperature of a hall with its daily cycle. A lag is stepped exactly,
 * T += (target − T)(1 − e^(−dt/τ)), so any step size is stable.
 */
import type { Random } from '../random.js';
import { DAY } from './model.js';

export class FirstOrderLag {
  constructor(
    public value: number,
    private readonly tauMs: number,
  ) {}

  step(dtMs: number, target: number): number {
    this.value += (target - this.value) * -Math.expm1(-dtMs / this.tauMs);
    return this.value;
  }
}

export interface AmbientOptions {
  /** Daily mean, °C. */
  meanC: number;
  /** Half the day-night difference, °C. */
  swingC: number;
}

/** The hall: a daily sine (its phase from the seed) plus weather that wanders slowly. */
export class Ambient {
  private t = 0;
  private readonly phase: number;
  private weather = 0;

  constructor(
    private readonly o: AmbientOptions,
    private readonly random: Random,
  ) {
    this.phase = random.next() * 2 * Math.PI;
  }

  step(dtMs: number): number {
    this.t += dtMs;
    // Weather: a random walk pulled back over about a day, ±1 °C typical.
    const decay = Math.exp(-dtMs / DAY);
    this.weather = this.weather * decay + Math.sqrt(1 - decay * decay) * this.random.normal();
    return this.o.meanC + this.o.swingC * Math.sin((2 * Math.PI * this.t) / DAY + this.phase) + this.weather;
  }
}
