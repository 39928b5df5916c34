/**
 * The forwarder moves readings from the buffer to the uplink: lease the next batch in seq order,
 * send it, and delete it only once Kafka acknowledged it. It never gives up: any failure drops
 * the connection, waits a jittered, growing delay and starts over from the first unacknowledged
 * seq.
 *
 * How a backlog (an outage's worth of readings) drains is the `drain` option:
 * - in-order: strictly by seq, so each sensor's readings stay in order in Kafka; live readings
 *   wait behind the whole backlog.
 * - live-first: once more than a batch waits, the readings buffered so far are the backlog. Each
 *   round sends what arrived since (live) first, then one batch of the backlog, so live readings
 *   wait at most a round and the backlog drains with the rest of the uplink. Each sensor's order
 *   can be restored from the seqs. Acknowledged ranges are deleted as before, so a restart simply
 *   sends whatever is left, oldest first.
 *
 * A buffer that started afresh (its data dir new, or lost with the seqs it had handed out) sends
 * nothing until it is anchored: on connect, the forwarder asks what Kafka already has of this
 * gateway and has the buffer renumber its readings above that, so no seq is ever reused.
 */
import type { Logger } from 'pino';
import type { StoredRecord } from '../buffer/buffer.js';
import type { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { type BackoffOptions, backoffDelay } from '../lib/backoff.js';
import { withDeadline } from '../lib/deadline.js';
import type { Status } from '../status/status.js';
import { type Refusal, type Uplink, UplinkError } from '../uplink/uplink.js';
import { failpoint } from './failpoint.js';

export interface ForwarderOptions {
  batchMaxRecords: number;
  batchMaxBytes: number;
  backoff: BackoffOptions;
  /** How long stop() lets an in-flight batch finish before abandoning it (it stays buffered). */
  stopTimeoutMs: number;
  /**
   * Longest a connect, send or close may take before it counts as failed. Client libraries can
   * hang on a half-dead connection; never giving up must not mean waiting forever.
   */
  callTimeoutMs: number;
  drain: 'in-order' | 'live-first';
  /**
   * A small batch (under a tenth of batchMaxRecords and of batchMaxBytes) waits until this long
   * after the previous send began, or until it is no longer small, to take what arrives meanwhile
   * along: a slow stream costs fewer, larger sends. 0: never wait.
   */
  lingerMs: number;
}

/** What a lease drains: readings in seq order, or (live-first) the backlog behind them. */
type Lane = 'live' | 'backlog';

/** live-first, while a backlog drains: the seqs up to `boundary` are sent behind newer ones. */
interface Backlog {
  boundary: number;
  /** Highest backlog seq acknowledged. */
  cursor: number;
  /** Whose turn the next lease is: live and backlog alternate, so neither starves. */
  turn: Lane;
  since: number;
  sent: number;
}

/** Connected, a batch in flight and nothing acknowledged for this long: the uplink is stalled. */
const STALL_MS = 20_000;
/** An idle uplink checks its connection this often (nothing else would notice a dead link). */
const IDLE_CHECK_MS = 15_000;
/** How long that check may take. */
const CHECK_TIMEOUT_MS = 10_000;
/** While the uplink stays down, one summary line this often (each retry is logged at debug). */
const DOWN_SUMMARY_MS = 60_000;

/** Settles like `p`, or rejects as unavailable after `ms` (p may still settle later; it is ignored). */
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return withDeadline(p, ms, () => new UplinkError(`${what} timed out after ${ms} ms`));
}

/** What a batch counts against batchMaxBytes. */
function batchBytes(batch: StoredRecord[]): number {
  return batch.reduce((n, r) => n + r.bytes, 0);
}

export class Forwarder {
  /**
   * Highest seq acknowledged by Kafka in this process; the buffer holds only what is above it
   * (live-first: and the backlog's unacknowledged rest, below `backlog.boundary`).
   */
  private cursor = 0;
  private backlog: Backlog | undefined;
  private connected = false;
  private running = false;
  /** stop() has returned: the buffer is no longer ours to touch (the gateway closes it next). */
  private stopped = false;
  private failures = 0;
  private loop: Promise<void> | undefined;
  /** Ends the current wait: set for every wait, so that stop() is prompt. */
  private interrupt: (() => void) | undefined;
  /** Ends an idle wait when new readings arrive (never a backoff wait). */
  private wakeUp: (() => void) | undefined;
  /** While a small batch lingers: whether it would still be small with what is stored now. */
  private stillSmall: (() => boolean) | undefined;
  /**
   * Monotonic times (performance.now(), immune to wall-clock steps): the last word from Kafka
   * (connect, acknowledgement, an answered check); the last sign that nothing waits for it (that,
   * or an empty buffer); and whether a batch is in flight now.
   */
  private contactAt = performance.now();
  private progressAt = performance.now();
  private sending = false;
  /** performance.now() when the last send began. */
  private sentAt = -Infinity;
  /** The last lease found nothing to send (the forwarder waits for readings). */
  private idle = false;
  private watchdog: NodeJS.Timeout | undefined;
  /** The outage under way: when it began (monotonic), attempts, and when it was last summarised. */
  private outage: { since: number; attempts: number; reportedAt: number } | undefined;

  constructor(
    private readonly buffer: SqliteBuffer,
    private readonly uplink: Uplink,
    private readonly status: Status,
    private readonly log: Logger,
    private readonly opts: ForwarderOptions,
  ) {}

  start(): void {
    this.running = true;
    this.stopped = false;
    this.loop = this.run();
    this.watchdog = setInterval(() => this.checkStall(), 1000);
    this.watchdog.unref();
  }

  /**
   * New readings are in the buffer. A lingering batch is looked at again only once they make it
   * worth sending: leasing it anew at every commit (ten a second) cost more than the send.
   */
  notify(): void {
    if (this.stillSmall?.()) return;
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.watchdog);
    this.interrupt?.();
    if (!this.loop) return;
    const finished = await Promise.race([
      this.loop?.then(() => true),
      new Promise<false>((r) => setTimeout(r, this.opts.stopTimeoutMs, false).unref()),
    ]);
    this.stopped = true;
    if (!finished)
      this.log.warn('in-flight batch abandoned at shutdown; it stays in the buffer and is sent after restart');
    await this.close();
    this.status.uplinkState(false);
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        if (!this.connected) {
          const { committedSeq } = await bounded(this.uplink.connect(), this.opts.callTimeoutMs, 'connect');
          if (!this.buffer.anchored) await this.anchor();
          // Only when stopped while anchoring: nothing may be sent.
          if (!this.buffer.anchored) continue;
          if (committedSeq !== null) await this.alreadyCommitted(committedSeq);
          this.connected = true;
          this.contactAt = this.progressAt = performance.now();
          this.status.uplinkState(true);
          this.connectedLog();
        }
        const next = await this.local('reading the buffer failed', () => this.nextBatch());
        if (next === undefined) continue;
        const { batch, lane } = next;
        if (batch.length === 0) {
          // Nothing new for a whole idle wait: no commit of readings will come to delete what
          // Kafka acknowledged last (see SqliteBuffer.ack()), so delete it now.
          if (this.idle)
            await this.local('deleting acknowledged readings from the buffer failed', () => this.buffer.flushAcks());
          this.idle = true;
          if (performance.now() - this.contactAt > IDLE_CHECK_MS) {
            await bounded(this.uplink.check(), CHECK_TIMEOUT_MS, 'connection check');
            this.contactAt = performance.now();
          }
          this.progressAt = performance.now();
          await this.sleep(1000, true);
          continue;
        }
        this.idle = false;
        const bytes = batchBytes(batch);
        const linger = this.lingerFor(batch.length, bytes, lane);
        if (linger > 0) {
          // Only the live lane in seq order lingers: its batch is everything after the cursor.
          // Bytes are estimated at the waiting batch's average.
          const perRecord = bytes / batch.length;
          this.stillSmall = () => {
            const records = this.buffer.lastSeq - this.cursor;
            return this.small(records, records * perRecord);
          };
          try {
            await this.sleep(linger, true);
          } finally {
            this.stillSmall = undefined;
          }
          continue;
        }
        this.sending = true;
        try {
          await this.deliver(batch, lane);
        } finally {
          this.sending = false;
        }
        this.failures = 0;
      } catch (err) {
        if (!this.running) break;
        await this.fail(err as Error);
      }
    }
  }

  /** The next batch to send (empty when there is none), and which lane it drains. */
  private nextBatch(): { batch: StoredRecord[]; lane: Lane } {
    const { batchMaxRecords: max, batchMaxBytes: maxBytes } = this.opts;
    const b = this.backlog;
    if (b) {
      if (b.turn === 'live') {
        b.turn = 'backlog';
        const batch = this.buffer.lease(this.cursor, max, maxBytes);
        if (batch.length) return { batch, lane: 'live' };
      }
      b.turn = 'live';
      const batch = this.buffer.lease(b.cursor, max, maxBytes, b.boundary);
      if (batch.length) return { batch, lane: 'backlog' };
      this.backlog = undefined;
      this.log.info(
        { readings: b.sent, drainS: Math.round((performance.now() - b.since) / 1000) },
        'backlog drained; sending in seq order again',
      );
    }
    const batch = this.buffer.lease(this.cursor, max, maxBytes);
    if (this.opts.drain === 'in-order' || batch.length === 0) return { batch, lane: 'live' };
    // More than another batch waits behind this one: a backlog. What is buffered now drains
    // behind whatever arrives from here on.
    const { depth, nextSeq } = this.buffer.stats();
    if (depth - batch.length <= max) return { batch, lane: 'live' };
    this.backlog = { boundary: nextSeq - 1, cursor: this.cursor, turn: 'live', since: performance.now(), sent: 0 };
    this.cursor = nextSeq - 1;
    this.log.info({ readings: depth }, 'backlog: new readings go first, the backlog drains behind them');
    return { batch, lane: 'backlog' };
  }

  /**
   * How long a batch should wait for more (<= 0: send it now). Only a small batch in seq order
   * waits, and only until sends begin lingerMs apart: a reading after a quiet spell goes at once.
   * A tenth of the limits is enough to share a send's fixed cost, so a faster stream waits less
   * (at 8,000 readings/s about 60 ms) and a burst or a backlog not at all: the linger never caps
   * throughput. The wait ends early when new readings make the batch big enough (see notify()).
   */
  private lingerFor(records: number, bytes: number, lane: Lane): number {
    if (lane !== 'live' || this.backlog || !this.small(records, bytes)) return 0;
    return this.sentAt + this.opts.lingerMs - performance.now();
  }

  /** Under a tenth of both batch limits: too small to be worth a send of its own. */
  private small(records: number, bytes: number): boolean {
    return records * 10 < this.opts.batchMaxRecords && bytes * 10 < this.opts.batchMaxBytes;
  }

  /** Send a batch; records Kafka refuses for themselves are quarantined, the rest is acknowledged. */
  private async deliver(batch: StoredRecord[], lane: Lane): Promise<void> {
    const t0 = performance.now();
    this.sentAt = t0;
    const { refused } = await bounded(this.uplink.send(batch), this.opts.callTimeoutMs, 'send');
    this.status.produceLatency((performance.now() - t0) / 1000);
    failpoint('after-send');
    await this.acked(batch, refused, lane);
  }

  /**
   * The buffer started afresh and cannot know which seqs this gateway used before: learn the
   * highest Kafka may hold, and renumber what is buffered to follow it. (Without this, exactly-once
   * would take the new readings below the committed seq for committed ones and delete them, and
   * at-least-once consumers would drop them as duplicates.)
   */
  private async anchor(): Promise<void> {
    const floor = (await bounded(this.uplink.seqFloor(), this.opts.callTimeoutMs, 'reading the seqs Kafka has')) ?? 0;
    const renumbered = await this.local('renumbering the buffer failed', () => this.buffer.anchor(floor));
    if (renumbered === undefined) return;
    this.log.info(
      { floor, renumbered },
      floor === 0
        ? 'fresh buffer: Kafka has no seqs of this gateway yet; seqs stay as they are'
        : `fresh buffer: seqs continue after ${floor}, which Kafka already has for this gateway; ${renumbered} buffered readings renumbered`,
    );
  }

  /**
   * Exactly-once: Kafka holds everything up to `seq`. Rows still here were committed by a session
   * that died before deleting them: delete them, never send them again. And a seq must never be
   * reused, even if the buffer file was lost: continue above what Kafka has.
   */
  private async alreadyCommitted(seq: number): Promise<void> {
    const from = this.cursor + 1;
    this.cursor = Math.max(this.cursor, seq);
    const deleted =
      seq >= from
        ? await this.local('deleting committed readings from the buffer failed', () => this.buffer.ack(from, seq))
        : 0;
    if (deleted)
      this.log.info({ committedSeq: seq, deleted }, 'deleted readings an earlier session committed to Kafka');
    await this.local('advancing the seq failed', () => this.buffer.advanceSeq(seq + 1));
  }

  private async acked(batch: StoredRecord[], refused: Refusal[], lane: Lane): Promise<void> {
    const first = batch[0]!.seq;
    const last = batch[batch.length - 1]!.seq;
    this.status.sent(batch.length - refused.length);
    for (const { record, reason } of refused) {
      this.log.warn({ seq: record.seq, bytes: record.bytes, reason }, 'record refused by Kafka; quarantined');
      this.status.dropped(reason, 1);
    }
    // Kafka has the batch whatever happens here: send on from after it, even if deleting it
    // failed for good (a stop mid-retry); it is then sent again after a restart, with its seqs.
    if (lane === 'live') this.cursor = last;
    else if (this.backlog) {
      this.backlog.cursor = last;
      this.backlog.sent += batch.length;
    }
    this.contactAt = this.progressAt = performance.now();
    if (this.status.hasProblem('uplink_stalled')) {
      this.status.uplinkStalled(null);
      this.log.info('uplink acknowledges readings again');
    }
    await this.local('deleting acknowledged readings from the buffer failed', () => {
      // Kafka will never take a refused record: it is kept in quarantine, and the rest flows.
      if (refused.length)
        this.buffer.quarantine(
          refused.map(({ record, reason, detail }) => ({
            ts: Date.now(),
            source: 'uplink',
            reason,
            detail: `seq ${record.seq}: ${detail}`,
            payload: record.value,
          })),
        );
      this.buffer.ack(first, last);
    });
  }

  /** Once a second: connected, a batch in flight, and nothing acknowledged for STALL_MS? */
  private checkStall(): void {
    const waited = performance.now() - this.progressAt;
    if (!this.connected || !this.sending || waited < STALL_MS || this.status.hasProblem('uplink_stalled')) return;
    const depth = this.buffer.stats().depth;
    const detail = `connected, but nothing acknowledged for ${Math.round(waited / 1000)} s while ${depth} readings wait`;
    this.status.uplinkStalled(detail);
    this.log.warn(
      { waitedS: Math.round(waited / 1000), buffered: depth },
      'uplink stalled: Kafka acknowledges nothing',
    );
  }

  /** One line when the uplink comes (back) up, saying how long it was down. */
  private connectedLog(): void {
    const o = this.outage;
    this.outage = undefined;
    if (!o) this.log.info('uplink connected');
    else
      this.log.info({ downS: Math.round((performance.now() - o.since) / 1000), attempts: o.attempts }, 'uplink back');
  }

  /**
   * A buffer operation. The buffer's disk failing (full, I/O errors) is no uplink failure: the
   * connection stays, and the operation is retried with backoff until it works or we stop. While
   * stopping it is still tried once (a batch Kafka acknowledges then is deleted, not sent again),
   * but not after stop() has returned. Returns undefined only when it did not succeed by then.
   */
  private async local<T>(what: string, op: () => T): Promise<T | undefined> {
    for (let attempt = 0; attempt === 0 ? !this.stopped : this.running; attempt++) {
      try {
        return op();
      } catch (err) {
        if (!this.running) break;
        const delay = backoffDelay(attempt, this.opts.backoff);
        this.log.warn({ err: (err as Error).message, retryInMs: delay }, `${what}; retrying`);
        await this.sleep(delay, false);
      }
    }
    return undefined;
  }

  private async fail(err: Error): Promise<void> {
    const delay = backoffDelay(this.failures++, this.opts.backoff);
    this.status.uplinkState(false, err.message);
    // One line when it goes down, a summary now and then while it lasts, each retry at debug.
    const now = performance.now();
    const o = this.outage;
    if (!o) {
      this.outage = { since: now, attempts: 1, reportedAt: now };
      this.log.warn({ err: err.message }, 'uplink down; retrying until it is back');
    } else {
      o.attempts++;
      if (now - o.reportedAt >= DOWN_SUMMARY_MS) {
        o.reportedAt = now;
        this.log.warn(
          { downS: Math.round((now - o.since) / 1000), attempts: o.attempts, err: err.message },
          'uplink still down',
        );
      } else {
        this.log.debug({ err: err.message, retryInMs: delay, attempt: o.attempts }, 'uplink retry failed');
      }
    }
    // kafkajs does not always recover a broken producer by itself: always start afresh.
    this.connected = false;
    await this.close();
    await this.sleep(delay, false);
  }

  private async close(): Promise<void> {
    await bounded(this.uplink.close(), this.opts.callTimeoutMs, 'close').catch((err: Error) =>
      this.log.debug({ err: err.message }, 'uplink close failed; starting afresh anyway'),
    );
  }

  private sleep(ms: number, wakeOnData: boolean): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.interrupt = this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.interrupt = done;
      if (wakeOnData) this.wakeUp = done;
    });
  }
}
