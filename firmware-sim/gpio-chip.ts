/**
 * A simulated GPIO chip for tests and `sensorgate demo`: a working chip behind the same GpioChip
 * interface as the onoff backend, whose pins are driven by code instead of wires. It sets levels,
 * makes contacts bounce and generates pulse trains at a given frequency. Edges are delivered with
 * the exact time they were scheduled for, as a kernel timestamps an interrupt, so what the driver
 * computes from them does not depend on how busy the event loop was.
 */
import {
  type Edge,
  type GpioChip,
  type GpioLine,
  GpioUnavailableError,
  type Level,
  type LineOptions,
} from '../drivers/gpio/chip.js';

/** Lines of the Raspberry Pi header chip (BCM 0-53). */
const PINS = 54;

interface Watcher {
  opts: LineOptions;
  onEdge: (level: Level, ts: number) => void;
}

interface Pin {
  level: Level;
  watchers: Set<Watcher>;
  /** Edges yet to happen, in time order (bounces). */
  queue: Array<{ ts: number; level: Level }>;
  /** A running pulse train. */
  train?: { start: number; period: number; high: number; next: number };
}

export class SimGpioChip implements GpioChip {
  private readonly pins = new Map<number, Pin>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  open(pin: number, opts: LineOptions): GpioLine {
    if (!Number.isInteger(pin) || pin < 0 || pin >= PINS)
      throw new GpioUnavailableError(`pin ${pin} does not exist on the simulated chip (lines 0-${PINS - 1})`);
    const p = this.pin(pin);
    let watcher: Watcher | undefined;
    return {
      name: `simulated line ${pin}`,
      read: () => logical(p.level, opts.activeLow),
      watch: (onEdge) => {
        watcher = { opts, onEdge };
        p.watchers.add(watcher);
      },
      close: () => {
        if (watcher) p.watchers.delete(watcher);
      },
    };
  }

  /** The physical level of a pin. */
  level(pin: number): Level {
    return this.pin(pin).level;
  }

  /** Set a pin's level now; an edge if it changes. */
  set(pin: number, level: Level): void {
    this.change(this.pin(pin), level, performance.now());
  }

  /**
   * Move a pin to `level` the way a mechanical contact does: `bounces` short returns to the old
   * level spread over `spanMs` before it settles.
   */
  bounce(pin: number, level: Level, { bounces = 4, spanMs = 4 }: { bounces?: number; spanMs?: number } = {}): void {
    const p = this.pin(pin);
    const t0 = performance.now();
    const steps = bounces * 2 + 1;
    for (let i = 0; i < steps; i++) {
      p.queue.push({ ts: t0 + (spanMs * i) / steps, level: (i % 2 === 0 ? level : 1 - level) as Level });
    }
    p.queue.sort((a, b) => a.ts - b.ts);
    this.schedule();
  }

  /** A pulse train of `hz` pulses per second (each high for `duty` of the period) until stopPulses(). */
  pulses(pin: number, hz: number, { duty = 0.5 }: { duty?: number } = {}): void {
    if (!(hz > 0) || !(duty > 0 && duty < 1)) throw new RangeError('pulses need hz > 0 and 0 < duty < 1');
    const p = this.pin(pin);
    const period = 1000 / hz;
    const start = performance.now();
    p.train = { start, period, high: period * duty, next: 0 };
    this.schedule();
  }

  stopPulses(pin: number): void {
    const p = this.pin(pin);
    if (p.train && p.level === 1) this.change(p, 0, performance.now());
    p.train = undefined;
  }

  /** Stop every pulse train and pending edge. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const p of this.pins.values()) {
      p.train = undefined;
      p.queue = [];
    }
  }

  private pin(n: number): Pin {
    let p = this.pins.get(n);
    if (!p) {
      p = { level: 0, watchers: new Set(), queue: [] };
      this.pins.set(n, p);
    }
    return p;
  }

  private change(p: Pin, level: Level, ts: number): void {
    if (p.level === level) return;
    p.level = level;
    for (const w of p.watchers) {
      const l = logical(level, w.opts.activeLow);
      if (matches(w.opts.edge, l)) w.onEdge(l, ts);
    }
  }

  /** The next edge of a pulse train: the k-th pulse rises at start + k·period, falls `high` later. */
  private static trainEdge(t: NonNullable<Pin['train']>): { ts: number; level: Level } {
    const k = Math.floor(t.next / 2);
    return t.next % 2 === 0
      ? { ts: t.start + k * t.period, level: 1 }
      : { ts: t.start + k * t.period + t.high, level: 0 };
  }

  private nextDue(): number | undefined {
    let due: number | undefined;
    for (const p of this.pins.values()) {
      const q = p.queue[0]?.ts;
      const t = p.train ? SimGpioChip.trainEdge(p.train).ts : undefined;
      for (const x of [q, t]) if (x !== undefined && (due === undefined || x < due)) due = x;
    }
    return due;
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    const due = this.nextDue();
    if (due === undefined) {
      this.timer = undefined;
      return;
    }
    this.timer = setTimeout(() => this.deliver(), Math.max(0, due - performance.now()));
  }

  /** Deliver every edge whose time has come, in time order, each with its own time. */
  private deliver(): void {
    const now = performance.now();
    for (;;) {
      let pick: { p: Pin; ts: number; level: Level; fromTrain: boolean } | undefined;
      for (const p of this.pins.values()) {
        const q = p.queue[0];
        if (q && q.ts <= now && (!pick || q.ts < pick.ts)) pick = { p, ...q, fromTrain: false };
        if (p.train) {
          const e = SimGpioChip.trainEdge(p.train);
          if (e.ts <= now && (!pick || e.ts < pick.ts)) pick = { p, ...e, fromTrain: true };
        }
      }
      if (!pick) break;
      if (pick.fromTrain) pick.p.train!.next++;
      else pick.p.queue.shift();
      this.change(pick.p, pick.level, pick.ts);
    }
    this.schedule();
  }
}

function logical(level: Level, activeLow: boolean): Level {
  return (activeLow ? 1 - level : level) as Level;
}

function matches(edge: Edge, level: Level): boolean {
  return edge === 'both' || (edge === 'rising') === (level === 1);
}
