/**
 * A rolling bearing wearing out. Its life runs from 0 (new) to 1 (failed) over `timeToFailureMs`
 * of simulated time; the vibration RMS it causes stays near the new-bearing level for most of the
 * life and then grows exponentially towards the failure level, the shape vibration trending shows
 * for spalling bearings. What a sensor measures varies with load and carries multiplicative
 * (log-normal) noise, so a single reading says little and the trend says a lot.
 */
import type { Random } from '../random.js';

export interface BearingWearOptions {
  timeToFailureMs: number;
  /** Life already used when the simulation starts, 0..1 (a demo need not wait for a new bearing to age). */
  lifeAtStart: number;
  /** Vibration RMS of a new bearing, mm/s. */
  baseRms: number;
  /** Vibration RMS at failure, mm/s. */
  failureRms: number;
  /** Shape of the growth: 0 is linear, larger puts more of it near the end. */
  growth: number;
  /** Relative standard deviation of one measurement. */
  noise: number;
  /** At failure the bearing is replaced and life starts again (a long demo keeps cycling). */
  replaceAtFailure: boolean;
}

/** Without replacement, a failed bearing's vibration keeps growing up to this multiple of the failure level. */
const RUN_TO_DESTRUCTION_CAP = 2;

export class BearingWear {
  life: number;
  replacements = 0;

  constructor(
    private readonly o: BearingWearOptions,
    private readonly random: Random,
  ) {
    this.life = o.lifeAtStart;
  }

  /** 0 for a new bearing, 1 at failure: how far the vibration has grown. */
  severity(life = this.life): number {
    const g = this.o.growth;
    return g === 0 ? life : Math.expm1(g * life) / Math.expm1(g);
  }

  /** Vibration RMS the bearing causes now, before load and measurement noise. */
  trueRms(life = this.life): number {
    const rms = this.o.baseRms + (this.o.failureRms - this.o.baseRms) * this.severity(life);
    return Math.min(rms, this.o.failureRms * RUN_TO_DESTRUCTION_CAP);
  }

  /** Simulated ms until failure. */
  remainingMs(): number {
    return Math.max(0, (1 - this.life) * this.o.timeToFailureMs);
  }

  /** Advance by `dtMs` at `load` (0..1); returns the measured vibration RMS. */
  step(dtMs: number, load: number): number {
    this.life += dtMs / this.o.timeToFailureMs;
    if (this.life >= 1 && this.o.replaceAtFailure) {
      this.life -= 1;
      this.replacements++;
    }
    const sigma = this.o.noise;
    const noise = Math.exp(sigma * this.random.normal() - (sigma * sigma) / 2);
    return this.trueRms() * (0.85 + 0.3 * load) * noise;
  }
}
