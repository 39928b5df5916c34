/**
 * The heartbeat: the gateway's GatewayStatus, published to the compacted status topic every
 * interval and soon after a state change (a source or the uplink going up or down).
 *
 * Only the latest status matters (the topic is compacted to one record per gateway), so nothing
 * is queued: at most one publish is in flight, and the snapshot is taken when a publish starts.
 * Requests that arrive meanwhile only mark the status as due again. While Kafka is unreachable,
 * each attempt fails and is forgotten; one retry is scheduled (backing off, never later than the
 * next tick), again with a fresh snapshot, so a state change is not held back a whole interval.
 */
import type { Logger } from 'pino';
import { backoffDelay } from '../lib/backoff.js';
import { settleWithin } from '../lib/deadline.js';
import type { Status } from './status.js';
import type { GatewayStatus } from './status-document.js';

/** Where statuses go: our own interface, so that kafkajs can be replaced (as for the Uplink). */
export interface StatusPublisher {
  /** Resolves once the broker acknowledged the record; throws when it could not. */
  publish(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}

export interface HeartbeatOptions {
  intervalMs: number;
  /** Coalesces a burst of state changes (ten sources coming up) into one publish. */
  changeDelayMs?: number;
  /** How long stop() waits for the farewell status before giving up on it. */
  stopTimeoutMs?: number;
  /**
   * While this says so, nothing is published (a change or tick after it ends does). A buffer that
   * started afresh holds the heartbeat until it is anchored: its status would replace, in the
   * compacted topic, the last one of the lost data dir, which says which seqs were used.
   */
  held?: () => boolean;
}

export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private changeTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private inFlight: Promise<void> | undefined;
  private due = false;
  private stopped = false;
  /** Whether the last attempt reached Kafka (undefined: none yet); a farewell is only tried then. */
  private reachable: boolean | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly status: Status,
    private readonly publisher: StatusPublisher,
    private readonly opts: HeartbeatOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.unsubscribe = this.status.onChange(() => this.publishSoon());
    this.timer = setInterval(() => this.request(), this.opts.intervalMs);
    this.request();
  }

  /** Publish a last status saying the gateway stopped (so the fleet shows it at once), then close. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    clearInterval(this.timer);
    clearTimeout(this.changeTimer);
    clearTimeout(this.retryTimer);
    const timeout = this.opts.stopTimeoutMs ?? 2000;
    const farewell = async () => {
      await this.inFlight;
      if (this.reachable === true) await this.send({ ...this.status.snapshot(), running: false });
    };
    await settleWithin(farewell(), timeout);
    await settleWithin(this.publisher.close(), timeout);
  }

  /** Publish a status shortly (changes that come together share one). */
  publishSoon(): void {
    if (this.stopped || this.changeTimer) return;
    this.changeTimer = setTimeout(() => {
      this.changeTimer = undefined;
      this.request();
    }, this.opts.changeDelayMs ?? 200);
  }

  private request(): void {
    if (this.stopped || this.opts.held?.()) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.due = true;
    if (!this.inFlight)
      this.inFlight = this.drain().finally(() => {
        this.inFlight = undefined;
      });
  }

  private async drain(): Promise<void> {
    while (this.due && !this.stopped) {
      this.due = false;
      await this.send(this.status.snapshot());
      if (this.reachable !== true) return this.retryLater();
    }
  }

  /** One retry after a failure; a tick or a change that comes first takes its place. */
  private retryLater(): void {
    if (this.stopped || this.retryTimer) return;
    const delay = Math.min(this.opts.intervalMs, backoffDelay(this.failures++, { initialMs: 1000, maxMs: 30_000 }));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.request();
    }, delay);
  }

  private async send(status: GatewayStatus): Promise<void> {
    try {
      await this.publisher.publish(status.gateway, JSON.stringify(status));
      if (this.reachable !== true) this.log.info({ intervalMs: this.opts.intervalMs }, 'status heartbeat published');
      this.reachable = true;
      this.failures = 0;
    } catch (err) {
      if (this.reachable !== false) this.log.warn({ err: (err as Error).message }, 'status heartbeat failed; retrying');
      this.reachable = false;
    }
  }
}
