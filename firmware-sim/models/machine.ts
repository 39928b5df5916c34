/**
 * Rotating machinery (a motor driving a pump or fan on a rolling bearing), the composition the
 * predictive-maintenance story needs: the load wanders, the bearing wears and vibrates more, the
 * motor draws current with the load and the bearing's friction, and the bearing housing warms
 * with load and wear behind a thermal lag while the hall's ambient temperature follows the day.
 */
import type { Random } from '../random.js';
import { BearingWear, type BearingWearOptions } from './bearing-wear.js';
import { LoadProfile, type LoadProfileOptions } from './load-profile.js';
import type { MetricInfo, Model } from './model.js';
import { MotorCurrent, type MotorCurrentOptions } from './motor-current.js';
import { Ambient, type AmbientOptions, FirstOrderLag } from './thermal.js';

export interface MachineOptions {
  bearing: BearingWearOptions;
  load: LoadProfileOptions;
  current: MotorCurrentOptions;
  ambient: AmbientOptions;
  /** Time constant of the bearing housing (simulated ms). */
  thermalLagMs: number;
  /** Bearing temperature above ambient at rated load with a new bearing, °C. */
  bearingRiseC: number;
  /** Extra bearing temperature at failure (friction heat), °C. */
  wearHeatC: number;
}

export const MACHINE_METRICS: readonly MetricInfo[] = [
  { name: 'vib_rms', unit: 'mm/s', decimals: 3 },
  { name: 'current', unit: 'A', decimals: 2 },
  { name: 'bearing_temp', unit: 'C', decimals: 2 },
  { name: 'ambient_temp', unit: 'C', decimals: 2 },
];

/** Temperature sensors (PT100 with its transmitter): °C standard deviation. */
const TEMP_NOISE_C = 0.15;
/** An ambient sensor in free air follows the air within minutes. */
const AMBIENT_SENSOR_LAG_MS = 5 * 60_000;

export class Machine implements Model {
  readonly metrics = MACHINE_METRICS;
  readonly bearing: BearingWear;
  private readonly load: LoadProfile;
  private readonly current: MotorCurrent;
  private readonly ambient: Ambient;
  private readonly housing: FirstOrderLag;
  private readonly ambientSensor: FirstOrderLag;
  private readonly noise: Random;

  constructor(
    private readonly o: MachineOptions,
    random: Random,
  ) {
    this.bearing = new BearingWear(o.bearing, random.fork('bearing'));
    this.load = new LoadProfile(o.load, random.fork('load'));
    this.current = new MotorCurrent(o.current, random.fork('current'));
    this.ambient = new Ambient(o.ambient, random.fork('ambient'));
    this.noise = random.fork('temperature-noise');
    // Start in equilibrium, as a machine that has been running for a while.
    const wear = this.bearing.severity();
    this.housing = new FirstOrderLag(
      o.ambient.meanC + o.bearingRiseC * o.load.mean + o.wearHeatC * wear,
      o.thermalLagMs,
    );
    this.ambientSensor = new FirstOrderLag(o.ambient.meanC, AMBIENT_SENSOR_LAG_MS);
  }

  step(dtMs: number): Record<string, number> {
    const load = this.load.step(dtMs);
    const vib = this.bearing.step(dtMs, load);
    const wear = this.bearing.severity();
    const air = this.ambient.step(dtMs);
    const housing = this.housing.step(dtMs, air + this.o.bearingRiseC * load + this.o.wearHeatC * wear);
    const ambient = this.ambientSensor.step(dtMs, air);
    return {
      vib_rms: vib,
      current: this.current.measure(load, wear),
      bearing_temp: housing + TEMP_NOISE_C * this.noise.normal(),
      ambient_temp: ambient + TEMP_NOISE_C * this.noise.normal(),
    };
  }
}
