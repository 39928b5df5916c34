/**
 * A sensor wired to a pin of the simulated GPIO chip: either a pulse output (a flow meter's hall
 * sensor, a tachometer) whose frequency follows a model metric, or a level (a door contact, a
 * valve end switch) that follows it, bouncing like a real contact when it changes. A dropout
 * silences the pin (no pulses, no changes); a stuck line is held high.
 */
import type { Level } from '../drivers/gpio/chip.js';
import type { DeviceConfig } from './config.js';
import { type DeviceEnv, SimDevice } from './device.js';
import type { Firmware, Tick } from './firmware.js';
import type { SimGpioChip } from './gpio-chip.js';

type GpioConfig = Extract<DeviceConfig, { transport: 'gpio' }>;

/** Above this the simulated chip's timers would cost more CPU than the demo should. */
export const MAX_PULSE_HZ = 500;
/** A pulse train is retuned only for a change larger than this (retuning restarts its phase). */
const RETUNE = 0.02;

export class GpioSimDevice extends SimDevice {
  readonly metric: string;
  private hz = 0;
  private level: Level = 0;

  constructor(
    readonly cfg: GpioConfig,
    firmware: Firmware,
    env: DeviceEnv,
    readonly chip: SimGpioChip,
  ) {
    super(cfg, firmware, env);
    this.metric = cfg.metric ?? firmware.metrics[0]!.name;
  }

  get pulses(): boolean {
    return this.cfg.pulsesPerUnit !== undefined;
  }

  async open(): Promise<void> {
    this.chip.set(this.cfg.pin, 0);
  }

  protected async close(): Promise<void> {
    this.silence();
  }

  protected async emit(tick: Tick): Promise<void> {
    const { started, ended, active } = tick.faults;
    const pin = this.cfg.pin;
    for (const f of ['dropout', 'stuck'] as const) {
      if (!started.includes(f)) continue;
      this.count(f);
      this.silence();
      if (f === 'stuck') this.chip.set(pin, 1);
    }
    if (active.has('dropout') || active.has('stuck')) {
      this.stats.lost += tick.samples.length;
      return;
    }
    if (ended.includes('stuck')) this.chip.set(pin, this.pulses ? 0 : this.level);
    const value = tick.samples.at(-1)!.values[this.metric]!;
    if (this.pulses) this.tune(Math.min(MAX_PULSE_HZ, (value * this.cfg.pulsesPerUnit!) / 60));
    else this.follow(value > 0.5 ? 1 : 0);
  }

  describe(): string {
    const c = this.cfg;
    return `gpio  simulated pin ${c.pin}  (${this.pulses ? `pulses: ${c.pulsesPerUnit} per unit of ${this.metric}` : `level of ${this.metric}${this.bounces ? ', bouncing' : ''}`})`;
  }

  source(): Record<string, unknown> {
    const c = this.cfg;
    const unit = this.firmware.metrics.find((m) => m.name === this.metric)?.unit;
    const base = {
      id: c.id,
      driver: 'gpio',
      pin: c.pin,
      sensor: this.sensor,
      metric: this.metric,
      ...(unit ? { unit } : {}),
    };
    return this.pulses
      ? {
          ...base,
          mode: 'pulses',
          pulsesPerUnit: c.pulsesPerUnit,
          ratePer: 'minute',
          windowMs: Math.max(1000, 2 * c.intervalMs),
        }
      : { ...base, mode: 'state', stateIntervalMs: Math.max(1000, 2 * c.intervalMs) };
  }

  private get bounces(): boolean {
    return !this.pulses && (this.cfg.bounce ?? true);
  }

  private tune(hz: number): void {
    if (hz <= 0) {
      if (this.hz > 0) this.chip.stopPulses(this.cfg.pin);
      this.hz = 0;
      return;
    }
    if (this.hz > 0 && Math.abs(hz - this.hz) / this.hz <= RETUNE) return;
    this.chip.pulses(this.cfg.pin, hz);
    this.hz = hz;
    this.stats.sent++;
  }

  private follow(level: Level): void {
    if (level === this.level) return;
    this.level = level;
    if (this.bounces) this.chip.bounce(this.cfg.pin, level);
    else this.chip.set(this.cfg.pin, level);
    this.stats.sent++;
  }

  private silence(): void {
    if (this.hz > 0) this.chip.stopPulses(this.cfg.pin);
    this.hz = 0;
  }
}
