/**
 * The forwarder moves readings from the buffer to the uplink: lease the next batch in seq order,
 * send it, and delete it only once Kafka acknowledged it. It never gives up: any failure drops
 * the connection, waits a jittered, growing delay and starts over from the first unacknowledged
 * seq. Order is strict (each sensor's readings stay in order in Kafka), so after an outage the
 * backlog drains first, in batches as large as the config allows, and live readings follow.
 */
import type { Logger } from 'pino';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { failpoint } from './failpoint.js';
import type { SqliteBuffer, StoredRecord } from './buffer.js';
import type { Status } from './status.js';
import { UplinkError, type Uplink } from './uplink.js';

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
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UplinkError(`${what} timed out after ${ms} ms`, 'unavailable')), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class Forwarder {
  /** Highest seq acknowledged by Kafka in this process; the buffer holds only what is above it. */
  private cursor = 0;
  private connected = false;
  private running = false;
  private failures = 0;
  private loop: Promise<void> | undefined;
  /** Ends the current wait: set for every wait, so that stop() is prompt. */
  private interrupt: (() => void) | undefined;
  /** Ends an idle wait when new readings arrive (never a backoff wait). */
  private wakeUp: (() => void) | undefined;
  /**
   * Monotonic times (performance.now(), immune to wall-clock steps): the last word from Kafka
   * (connect, acknowledgement, an answered check); the last sign that nothing waits for it (that,
   * or an empty buffer); and whether a batch is in flight now.
   */
  private contactAt = performance.now();
  private progressAt = performance.now();
  private sending = false;
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
    this.loop = this.run();
    this.watchdog = setInterval(() => this.checkStall(), 1000);
    this.watchdog.unref();
  }

  /** New readings are in the buffer. */
  notify(): void {
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
    if (!finished) this.log.warn('in-flight batch abandoned at shutdown; it stays in the buffer and is sent after restart');
    await this.close();
    this.status.uplinkState(false);
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        if (!this.connected) {
          const { committedSeq } = await bounded(this.uplink.connect(), this.opts.callTimeoutMs, 'connect');
          if (committedSeq !== null) this.alreadyCommitted(committedSeq);
          this.connected = true;
          this.contactAt = this.progressAt = performance.now();
          this.status.uplinkState(true);
          this.connectedLog();
        }
        const batch = this.buffer.lease(this.cursor, this.opts.batchMaxRecords, this.opts.batchMaxBytes);
        if (batch.length === 0) {
          if (performance.now() - this.contactAt > IDLE_CHECK_MS) {
            await bounded(this.uplink.check(), CHECK_TIMEOUT_MS, 'connection check');
            this.contactAt = performance.now();
          }
          this.progressAt = performance.now();
          await this.sleep(1000, true);
          continue;
        }
        this.sending = true;
        try {
          await this.deliver(batch);
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

  /** Send a batch; a batch Kafka refuses as too large is split until the culprit stands alone. */
  private async deliver(batch: StoredRecord[]): Promise<void> {
    const t0 = performance.now();
    try {
      await bounded(this.uplink.send(batch), this.opts.callTimeoutMs, 'send');
      this.status.produceLatency((performance.now() - t0) / 1000);
    } catch (err) {
      if (!(err instanceof UplinkError && err.kind === 'too_large')) throw err;
      if (batch.length === 1) {
        this.isolate(batch[0]!, err);
        return;
      }
      const half = Math.ceil(batch.length / 2);
      await this.deliver(batch.slice(0, half));
      await this.deliver(batch.slice(half));
      return;
    }
    failpoint('after-send');
    this.acked(batch);
  }

  /**
   * Exactly-once: Kafka holds everything up to `seq`. Rows still here were committed by a session
   * that died before deleting them: delete them, never send them again. And a seq must never be
   * reused, even if the buffer file was lost: continue above what Kafka has.
   */
  private alreadyCommitted(seq: number): void {
    const deleted = seq > this.cursor ? this.buffer.ack(this.cursor + 1, seq) : 0;
    if (deleted) this.log.info({ committedSeq: seq, deleted }, 'deleted readings an earlier session committed to Kafka');
    this.buffer.advanceSeq(seq + 1);
    this.cursor = Math.max(this.cursor, seq);
  }

  private acked(batch: StoredRecord[]): void {
    const first = batch[0]!.seq;
    const last = batch[batch.length - 1]!.seq;
    this.buffer.ack(first, last);
    this.cursor = last;
    this.contactAt = this.progressAt = performance.now();
    this.status.sent(batch.length);
    if (this.status.hasProblem('uplink_stalled')) {
      this.status.uplinkStalled(null);
      this.log.info('uplink acknowledges readings again');
    }
  }

  /** Once a second: connected, a batch in flight, and nothing acknowledged for STALL_MS? */
  private checkStall(): void {
    const waited = performance.now() - this.progressAt;
    if (!this.connected || !this.sending || waited < STALL_MS || this.status.hasProblem('uplink_stalled')) return;
    const depth = this.buffer.stats().depth;
    const detail = `connected, but nothing acknowledged for ${Math.round(waited / 1000)} s while ${depth} readings wait`;
    this.status.uplinkStalled(detail);
    this.log.warn({ waitedS: Math.round(waited / 1000), buffered: depth }, 'uplink stalled: Kafka acknowledges nothing');
  }

  /** One line when the uplink comes (back) up, saying how long it was down. */
  private connectedLog(): void {
    const o = this.outage;
    this.outage = undefined;
    if (!o) return this.log.info('uplink connected');
    this.log.info({ downS: Math.round((performance.now() - o.since) / 1000), attempts: o.attempts }, 'uplink back');
  }

  /** Kafka will never take this record: keep it in quarantine, count it, let the rest flow. */
  private isolate(record: StoredRecord, err: Error): void {
    this.log.warn({ seq: record.seq, bytes: record.bytes }, 'record refused by Kafka as too large; quarantined');
    this.buffer.quarantine([{ ts: Date.now(), source: 'uplink', reason: 'kafka_too_large', detail: `seq ${record.seq}: ${err.message}`, payload: record.value }]);
    this.buffer.ack(record.seq, record.seq);
    this.cursor = record.seq;
    this.status.dropped('kafka_too_large', 1);
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
        this.log.warn({ downS: Math.round((now - o.since) / 1000), attempts: o.attempts, err: err.message }, 'uplink still down');
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
    await bounded(this.uplink.close(), this.opts.callTimeoutMs, 'close').catch((err: Error) => this.log.debug({ err: err.message }, 'uplink close failed; starting afresh anyway'));
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
