/**
 * Contact debouncing. A change of level counts once the line has stayed at the new level for
 * `ms`; a bounce that returns to the old level within that time counts for nothing. An accepted
 * change is dated at its first edge, when the contact actually moved. Pure: the caller feeds edges
 * and asks at (or after) `deadline` whether a change has settled.
 */
import type { Level } from './chip.js';

export class Debouncer {
  private stable: Level;
  private raw: Level;
  private lastEdge = 0;
  /** First edge of the burst not yet settled; undefined while the line is quiet. */
  private firstEdge: number | undefined;

  constructor(
    initial: Level,
    private readonly ms: number,
  ) {
    this.stable = initial;
    this.raw = initial;
  }

  /** The debounced level. */
  get level(): Level {
    return this.stable;
  }

  /** When to call settle() next; undefined when no change is pending. */
  get deadline(): number | undefined {
    return this.firstEdge === undefined ? undefined : this.lastEdge + this.ms;
  }

  /**
   * Take an edge. Returns the pending change if this edge shows it had already settled: edges may
   * be handed over late and together (the event loop was busy), after the line had in fact been
   * quiet for `ms`, and a press and release that both arrive before settle() is called must count.
   */
  edge(level: Level, ts: number): { level: Level; ts: number } | undefined {
    if (level === this.raw) return undefined; // a repeated level is no edge (sysfs may coalesce interrupts)
    const settled = this.settle(ts);
    this.raw = level;
    this.lastEdge = ts;
    this.firstEdge ??= ts;
    return settled;
  }

  /** The accepted change, once the line has been quiet for `ms` at `now`. */
  settle(now: number): { level: Level; ts: number } | undefined {
    if (this.firstEdge === undefined || now < this.lastEdge + this.ms) return undefined;
    const ts = this.firstEdge;
    this.firstEdge = undefined;
    if (this.raw === this.stable) return undefined; // bounced back: nothing happened
    this.stable = this.raw;
    return { level: this.stable, ts };
  }
}
