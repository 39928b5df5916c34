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
import { UplinkError, type Refusal, type Uplink } from './uplink.js';

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

/** Settles like `p`, or rejects as unavailable after `ms` (p may still settle later; it is ignored). */
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UplinkError(`${what} timed out after ${ms} ms`)), ms);
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
  }

  /** New readings are in the buffer. */
  notify(): void {
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.running = false;
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
          if (committedSeq !== null) await this.alreadyCommitted(committedSeq);
          this.connected = true;
          this.status.uplinkState(true);
          this.log.info('uplink connected');
        }
        const batch = await this.local('reading the buffer failed', () => this.buffer.lease(this.cursor, this.opts.batchMaxRecords, this.opts.batchMaxBytes));
        if (batch === undefined) continue;
        if (batch.length === 0) {
          await this.sleep(1000, true);
          continue;
        }
        await this.deliver(batch);
        this.failures = 0;
      } catch (err) {
        if (!this.running) break;
        await this.fail(err as Error);
      }
    }
  }

  /** Send a batch; records Kafka refuses for themselves are quarantined, the rest is acknowledged. */
  private async deliver(batch: StoredRecord[]): Promise<void> {
    const t0 = performance.now();
    const { refused } = await bounded(this.uplink.send(batch), this.opts.callTimeoutMs, 'send');
    this.status.produceLatency((performance.now() - t0) / 1000);
    failpoint('after-send');
    await this.acked(batch, refused);
  }

  /**
   * Exactly-once: Kafka holds everything up to `seq`. Rows still here were committed by a session
   * that died before deleting them: delete them, never send them again. And a seq must never be
   * reused, even if the buffer file was lost: continue above what Kafka has.
   */
  private async alreadyCommitted(seq: number): Promise<void> {
    const from = this.cursor + 1;
    this.cursor = Math.max(this.cursor, seq);
    const deleted = seq >= from ? await this.local('deleting committed readings from the buffer failed', () => this.buffer.ack(from, seq)) : 0;
    if (deleted) this.log.info({ committedSeq: seq, deleted }, 'deleted readings an earlier session committed to Kafka');
    await this.local('advancing the seq failed', () => this.buffer.advanceSeq(seq + 1));
  }

  private async acked(batch: StoredRecord[], refused: Refusal[]): Promise<void> {
    const first = batch[0]!.seq;
    const last = batch[batch.length - 1]!.seq;
    this.status.sent(batch.length - refused.length);
    for (const { record, reason } of refused) {
      this.log.warn({ seq: record.seq, bytes: record.bytes, reason }, 'record refused by Kafka; quarantined');
      this.status.dropped(reason, 1);
    }
    // Kafka has the batch whatever happens here: send on from after it, even if deleting it
    // failed for good (a stop mid-retry); it is then sent again after a restart, with its seqs.
    this.cursor = last;
    await this.local('deleting acknowledged readings from the buffer failed', () => {
      // Kafka will never take a refused record: it is kept in quarantine, and the rest flows.
      if (refused.length) this.buffer.quarantine(refused.map(({ record, reason, detail }) => ({ ts: Date.now(), source: 'uplink', reason, detail: `seq ${record.seq}: ${detail}`, payload: record.value })));
      this.buffer.ack(first, last);
    });
  }

  /**
   * A buffer operation. The buffer's disk failing (full, I/O errors) is no uplink failure: the
   * connection stays, and the operation is retried with backoff until it works or we stop.
   * Returns undefined only when stopped first.
   */
  private async local<T>(what: string, op: () => T): Promise<T | undefined> {
    for (let attempt = 0; this.running; attempt++) {
      try {
        return op();
      } catch (err) {
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
    this.log.warn({ err: err.message, retryInMs: delay, attempt: this.failures }, 'uplink failed; reconnecting');
    // kafkajs does not always recover a broken producer by itself: always start afresh.
    this.connected = false;
    await this.close();
    await this.sleep(delay, false);
  }

  private async close(): Promise<void> {
    await bounded(this.uplink.close(), this.opts.callTimeoutMs, 'close').catch((err: Error) => this.log.warn({ err: err.message }, 'uplink close failed; starting afresh anyway'));
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
