/**
 * Ingest: where readings from drivers become durable. Validates, stamps (receive time, boot id,
 * clock state; the buffer adds seq), and commits in groups: everything that arrives within one
 * commit window goes into a single SQLite transaction, so a burst of thousands of readings costs
 * one fsync, and each driver learns (through its promise) the moment its readings are safe.
 *
 * The window is measured on the monotonic clock: the wall clock is only stamped into readings,
 * so an NTP step of days in either direction neither stalls nor rushes commits.
 */
import type { DriverSink, RawReading, Rejection, SessionChange } from '../../drivers/driver.js';
import { isName } from '../../drivers/names.js';
import type { BufferEntry, QuarantineEntry, SessionOp } from '../buffer/buffer.js';
import { storageFailure } from '../buffer/failures.js';
import type { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import type { Status } from '../status/status.js';
import type { Clock } from './clock.js';
import { encodeRecord, recordKey } from './record.js';

export interface IngestOptions {
  gateway: string;
  /** Longest a reading waits for its commit. */
  commitIntervalMs: number;
  /** Commit at once when this many readings are waiting, spacing or not (bounds memory). */
  maxBatch?: number;
}

/**
 * A commit comes before the interval is up once this many readings wait: under load a commit
 * holds hundreds of readings anyway, and they need not wait the whole interval.
 */
const EARLY_READINGS = 256;
/** ...but never sooner than this after the previous one: at most 50 fsyncs a second at any load. */
const MIN_SPACING_MS = 20;

interface Pending {
  entries: BufferEntry[];
  sources: string[];
  quarantine: QuarantineEntry[];
  /** Held-message changes, in submission order. */
  session: SessionOp[];
  /** Settles when this group is committed; every submission of the group gets the same one. */
  committed?: Promise<void>;
  settle?: { resolve: () => void; reject: (err: Error) => void };
}

const empty = (): Pending => ({ entries: [], sources: [], quarantine: [], session: [] });

export class Ingest {
  private pending = empty();
  private timer: NodeJS.Timeout | undefined;
  /** performance.now() when the armed timer fires. */
  private timerDue = 0;
  /** performance.now() of the last commit. */
  private lastCommit = -Infinity;
  private closed = false;
  private readonly maxBatch: number;
  /** Sources whose protocol keeps what we do not acknowledge (MQTT QoS 1): a failed commit loses them nothing. */
  private readonly redelivering = new Set<string>();

  constructor(
    private readonly buffer: SqliteBuffer,
    private readonly status: Status,
    private readonly clock: Clock,
    private readonly opts: IngestOptions,
    /** Told after every commit that stored something (the forwarder wakes up). */
    private readonly onStored: () => void,
  ) {
    this.maxBatch = opts.maxBatch ?? 10_000;
  }

  /** The sink one driver writes into; `redelivers`: its input is kept upstream until acknowledged. */
  sinkFor(source: string, redelivers = false): DriverSink {
    if (redelivers) this.redelivering.add(source);
    return {
      submit: (readings, rejections, session) => this.submit(source, readings, rejections ?? [], session),
      held: () => this.buffer.heldMessages(source),
      state: (state, detail) => this.status.sourceState(source, state, detail),
    };
  }

  submit(source: string, readings: RawReading[], rejections: Rejection[], session?: SessionChange): Promise<void> {
    if (this.closed) return Promise.reject(new Error('ingest is closed'));
    const now = this.clock.now();
    const p = this.pending;
    if (session) {
      for (const hold of session.hold ?? []) p.session.push({ source, hold });
      for (const release of session.release ?? []) p.session.push({ source, release });
    }
    for (const q of rejections) p.quarantine.push({ ts: now, source, ...q });
    if (readings.length) {
      const clockSynced = this.clock.synced();
      const { bootId } = this.clock;
      const gateway = this.opts.gateway;
      for (const r of readings) {
        // Drivers validate; this guards the record format against a driver that did not.
        if (!isName(r.sensor) || !isName(r.metric)) {
          p.quarantine.push({
            ts: now,
            source,
            reason: 'bad_name',
            detail: `bad sensor or metric name from driver`,
            payload: JSON.stringify(r).slice(0, 512),
          });
          continue;
        }
        if (!Number.isFinite(r.value)) {
          p.quarantine.push({
            ts: now,
            source,
            reason: 'not_a_number',
            detail: `value ${r.value}`,
            payload: JSON.stringify(r).slice(0, 512),
          });
          continue;
        }
        const ts = r.ts ?? now;
        const { sensor, metric, value, unit } = r;
        p.entries.push({
          key: recordKey(gateway, sensor),
          ts,
          encode: (seq) => encodeRecord({ gateway, source, sensor, metric, value, unit, ts, seq, bootId, clockSynced }),
        });
        p.sources.push(source);
      }
    }
    // One promise per commit group, not per submission: at thousands of readings a second the
    // allocations matter, and drivers can attach one handler per commit rather than per message.
    if (!p.committed) {
      p.committed = new Promise<void>((resolve, reject) => {
        p.settle = { resolve, reject };
      });
      p.committed.catch(() => undefined); // a driver that ignores the outcome must not crash us
    }
    this.schedule();
    return p.committed;
  }

  /**
   * Few readings wait up to commitIntervalMs, so that a slow stream costs few commits (fsyncs,
   * flash writes, CPU); many are committed as soon as the spacing allows, so that a fast one
   * is not held back.
   */
  private schedule(): void {
    const waiting = this.pending.entries.length;
    if (waiting >= this.maxBatch) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.commit();
      return;
    }
    const spacing = Math.min(MIN_SPACING_MS, this.opts.commitIntervalMs);
    const spaced = Math.max(0, this.lastCommit + spacing - performance.now());
    if (waiting >= EARLY_READINGS) {
      if (!this.timer || this.timerDue > performance.now() + spaced) this.commitIn(spaced);
    } else if (!this.timer) this.commitIn(Math.max(spaced, this.opts.commitIntervalMs));
  }

  /** (Re)arm the commit timer: even at 0, what the current tick submits joins the commit. */
  private commitIn(ms: number): void {
    clearTimeout(this.timer);
    this.timerDue = performance.now() + ms;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.commit();
    }, ms);
  }

  /** Commit everything pending now. */
  commit(): void {
    const p = this.pending;
    if (!p.settle) return;
    this.pending = empty();
    this.lastCommit = performance.now();
    let result: ReturnType<SqliteBuffer['append']>;
    try {
      result = this.buffer.append(p.entries, p.quarantine, p.session);
    } catch (err) {
      // Nothing of the group is stored. Sources that can hold their input until acknowledged get
      // it back (the rejection withholds the acknowledgement); for the others it is lost: count it.
      const failure = storageFailure(err);
      if (failure) this.status.dropped(failure, p.sources.filter((s) => !this.redelivering.has(s)).length);
      p.settle.reject(err as Error);
      return;
    }
    this.status.committed();
    const refused = new Set(result.refused);
    const perSource = new Map<string, { n: number; ts: number }>();
    p.entries.forEach((e, i) => {
      if (refused.has(e)) return;
      const src = p.sources[i]!;
      const c = perSource.get(src) ?? { n: 0, ts: 0 };
      c.n++;
      c.ts = e.ts;
      perSource.set(src, c);
    });
    for (const [src, c] of perSource) this.status.ingested(src, c.n, c.ts);
    for (const q of p.quarantine) this.status.rejected(q.source, q.reason, q.count);
    this.status.dropped('drop_oldest', result.droppedOldest);
    this.status.dropped('reject_new', refused.size);
    p.settle.resolve();
    if (result.stored > 0) this.onStored();
  }

  /** Commit what is pending and refuse further input. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.commit();
    this.closed = true;
  }
}
