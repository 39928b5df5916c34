/**
 * A running simulated device: its firmware ticks every intervalMs and each transport (serial,
 * Modbus, MQTT, GPIO) puts the tick on its wire. Ticks run one after another on a fixed
 * schedule; a tick that ran late does not cause a catch-up burst (ticks are skipped, not queued),
 * and a slow transport action (an unplug) delays the next tick rather than overlapping it.
 */
import type { DeviceConfig, FaultType } from './config.js';
import type { Firmware, Tick } from './firmware.js';

export interface DeviceStats {
  ticks: number;
  /** Frames (serial lines, MQTT messages, register updates, pin changes) put on the wire. */
  sent: number;
  /** Good readings in them (serial and MQTT; a Modbus master or GPIO driver decides its own). */
  readings: number;
  /** Fault occurrences that took effect, by type. */
  injected: Partial<Record<FaultType, number>>;
  /** Samples not sent: during a dropout or unplug, or while the line was still busy. */
  lost: number;
}

export interface DeviceEnv {
  /** The device's wall clock (epoch ms); Date.now unless a test pins it. */
  clock: () => number;
  /** Told about failures of the device's own transport (it keeps ticking). */
  onError: (device: string, err: Error) => void;
}

export abstract class SimDevice {
  readonly stats: DeviceStats = { ticks: 0, sent: 0, readings: 0, injected: {}, lost: 0 };
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private due = 0;
  private current: Promise<void> = Promise.resolve();

  constructor(
    readonly config: DeviceConfig,
    readonly firmware: Firmware,
    protected readonly env: DeviceEnv,
  ) {}

  get id(): string {
    return this.config.id;
  }

  get sensor(): string {
    return this.config.sensor ?? this.config.id;
  }

  /** Open the device's wire (pty, broker connection, pin) without sending yet. */
  abstract open(): Promise<void>;
  /** Put one tick on the wire. */
  protected abstract emit(tick: Tick): Promise<void>;
  /** Release the wire. */
  protected abstract close(): Promise<void>;
  /** Where the gateway finds the device, for people: "serial line /path (115200 8N1, checksums)". */
  abstract describe(): string;
  /** A gateway source (config shape, unvalidated) that reads this device. */
  abstract source(): Record<string, unknown>;

  async start(): Promise<void> {
    await this.open();
    this.run();
  }

  /** Begin ticking (after open()). */
  run(): void {
    if (this.running) return;
    this.running = true;
    this.due = performance.now();
    this.timer = setTimeout(() => this.loop(), 0);
  }

  /** Stop ticking (the wire stays open); run() goes on from the next tick. */
  async pause(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.current;
  }

  async stop(): Promise<void> {
    await this.pause();
    await this.close();
  }

  protected count(type: FaultType, n = 1): void {
    this.stats.injected[type] = (this.stats.injected[type] ?? 0) + n;
  }

  /** Faults that went out with this tick's samples: stuck values, spikes, a burst, a skewed clock. */
  protected countSampleFaults(tick: Tick): void {
    for (const t of ['stuck', 'burst', 'clock_skew'] as const) if (tick.faults.started.includes(t)) this.count(t);
    const spikes = tick.samples.filter((s) => s.spiked !== undefined).length;
    if (spikes) this.count('spike', spikes);
  }

  private loop(): void {
    this.timer = undefined;
    const tick = this.firmware.tick(this.env.clock());
    this.stats.ticks++;
    this.current = this.emit(tick).catch((err: Error) => this.env.onError(this.id, err));
    void this.current.then(() => {
      if (!this.running) return;
      const now = performance.now();
      this.due = Math.max(this.due + this.config.intervalMs, now);
      this.timer = setTimeout(() => this.loop(), this.due - now);
    });
  }
}
