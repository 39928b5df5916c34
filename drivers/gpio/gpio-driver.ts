/**
 * GPIO source, one input pin in one of three modes:
 * - `state`: the debounced level, on every change and every `stateIntervalMs` (a door, a valve);
 * - `edges`: one reading per debounced transition of the chosen kind (a push button, a trip);
 * - `pulses`: pulses counted into a rate per window (a flow meter, a tachometer), in units per
 *   `ratePer` from `pulsesPerUnit`.
 * Unlike the serial drivers, a missing GPIO is not an outage that passes: start() fails with a
 * GpioUnavailableError saying why, so a misconfigured device is noticed at once.
 */
import type { Driver, DriverSink, RawReading } from '../driver.js';
import type { Edge, GpioChip, GpioLine, Level } from './chip.js';
import { Debouncer } from './debounce.js';
import { PulseRate } from './pulse-rate.js';

export type GpioMode = 'state' | 'edges' | 'pulses';

export interface GpioSourceOptions {
  id: string;
  /** BCM number. */
  pin: number;
  mode: GpioMode;
  /** Default: the source id. */
  sensor?: string;
  /** Default by mode: state, edge, rate. */
  metric?: string;
  unit?: string;
  activeLow: boolean;
  /** Default by mode: 20 ms for state and edges (switch contacts), 0 for pulses (meter outputs are clean). */
  debounceMs?: number;
  /** edges: which transitions count (default both); pulses: which edge is a pulse (default rising). */
  edge?: Edge;
  /** state: how often the level is read out without a change (default 60 s). */
  stateIntervalMs?: number;
  /** pulses: length of a counting window (default 10 s). */
  windowMs?: number;
  /** pulses: pulses per unit of what is measured, e.g. 450 per litre (default 1). */
  pulsesPerUnit?: number;
  /** pulses: the rate is units per second, minute (default) or hour. */
  ratePer?: 'second' | 'minute' | 'hour';
  openChip: () => Promise<GpioChip>;
}

/** Defaults that depend on the mode. */
const BY_MODE = {
  metric: { state: 'state', edges: 'edge', pulses: 'rate' },
  debounceMs: { state: 20, edges: 20, pulses: 0 },
  edge: { state: 'both', edges: 'both', pulses: 'rising' },
} as const satisfies Record<string, Record<GpioMode, unknown>>;

const DEFAULTS = { stateIntervalMs: 60_000, windowMs: 10_000, pulsesPerUnit: 1, ratePer: 'minute' } as const;

const SECONDS_PER = { second: 1, minute: 60, hour: 3600 } as const;

/**
 * performance.now() time -> epoch ms, through the wall clock as it is now (not timeOrigin, which
 * drifts from it and misses the step a Pi's clock makes when NTP first syncs).
 */
const epochMs = (t: number) => Math.round(Date.now() - (performance.now() - t));

export class GpioDriver implements Driver {
  readonly driver = 'gpio';
  readonly id: string;
  private readonly sensor: string;
  private readonly metric: string;
  private readonly debounceMs: number;
  private readonly edge: Edge;
  private sink?: DriverSink;
  private line?: GpioLine;
  private timers: NodeJS.Timeout[] = [];
  private settleTimer?: NodeJS.Timeout;
  private lastSubmit: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: GpioSourceOptions) {
    this.id = opts.id;
    this.sensor = opts.sensor ?? opts.id;
    this.metric = opts.metric ?? BY_MODE.metric[opts.mode];
    this.debounceMs = opts.debounceMs ?? BY_MODE.debounceMs[opts.mode];
    this.edge = opts.edge ?? BY_MODE.edge[opts.mode];
  }

  async start(sink: DriverSink): Promise<void> {
    const o = this.opts;
    sink.state('starting');
    let line: GpioLine;
    try {
      const chip = await o.openChip();
      // Debouncing needs both edges whatever the events wanted; pulse counting only its edge.
      line = chip.open(o.pin, { edge: o.mode === 'pulses' ? this.edge : 'both', activeLow: o.activeLow });
    } catch (err) {
      sink.state('down', (err as Error).message);
      throw new Error(`source "${this.id}": ${(err as Error).message}`, { cause: err });
    }
    this.sink = sink;
    this.line = line;
    if (o.mode === 'pulses') this.countPulses(line);
    else this.watchLevel(line);
    sink.state('up', line.name);
  }

  async stop(): Promise<void> {
    const sink = this.sink;
    if (!sink) return;
    this.sink = undefined;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    clearTimeout(this.settleTimer);
    this.line?.close();
    this.line = undefined;
    await this.lastSubmit;
    sink.state('stopped');
  }

  private emit(value: number, ts: number): void {
    const sink = this.sink;
    if (!sink) return;
    const reading: RawReading = { sensor: this.sensor, metric: this.metric, value, ts: epochMs(ts) };
    if (this.opts.unit !== undefined) reading.unit = this.opts.unit;
    this.lastSubmit = sink.submit([reading]).catch((err: Error) => {
      if (this.sink === sink) sink.state('down', `buffer write failed: ${err.message}`);
    });
  }

  private watchLevel(line: GpioLine): void {
    const debouncer = new Debouncer(line.read(), this.debounceMs);
    const wanted = (level: Level) =>
      this.opts.mode === 'state' || this.edge === 'both' || (this.edge === 'rising') === (level === 1);
    const report = (change: { level: Level; ts: number } | undefined) => {
      if (change && wanted(change.level)) this.emit(change.level, change.ts);
    };
    const settle = () => {
      this.settleTimer = undefined;
      report(debouncer.settle(performance.now()));
      const deadline = debouncer.deadline;
      if (deadline !== undefined) this.settleTimer = setTimeout(settle, Math.max(0, deadline - performance.now()));
    };
    line.watch(
      (level, ts) => {
        // A change that settled before this edge, while the settle timer could not run, is reported now.
        report(debouncer.edge(level, ts));
        // Re-armed on every edge: a bouncing contact pushes its own deadline out.
        clearTimeout(this.settleTimer);
        this.settleTimer = setTimeout(settle, Math.max(0, (debouncer.deadline ?? ts) - performance.now()));
      },
      (err) => this.sink?.state('down', `${line.name}: ${err.message}`),
    );
    if (this.opts.mode === 'state') {
      this.emit(debouncer.level, performance.now());
      this.timers.push(
        setInterval(
          () => this.emit(debouncer.level, performance.now()),
          this.opts.stateIntervalMs ?? DEFAULTS.stateIntervalMs,
        ),
      );
    }
  }

  private countPulses(line: GpioLine): void {
    const o = this.opts;
    const windowMs = o.windowMs ?? DEFAULTS.windowMs;
    const pulsesPerUnit = o.pulsesPerUnit ?? DEFAULTS.pulsesPerUnit;
    const perSecondToRate = SECONDS_PER[o.ratePer ?? DEFAULTS.ratePer] / pulsesPerUnit;
    const rate = new PulseRate();
    let lastPulse = -Infinity;
    line.watch(
      (_level, ts) => {
        // A reed contact may bounce; a pulse within debounceMs of the last one is that bounce.
        if (ts - lastPulse < this.debounceMs) return;
        lastPulse = ts;
        rate.pulse(ts);
      },
      (err) => this.sink?.state('down', `${line.name}: ${err.message}`),
    );
    let windowStart = performance.now();
    this.timers.push(
      setInterval(() => {
        const now = performance.now();
        const perSecond = rate.close(windowStart, now);
        windowStart = now;
        this.emit(perSecond * perSecondToRate, now);
      }, windowMs),
    );
  }
}
