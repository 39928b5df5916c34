/**
 * The status topic, read from the beginning and then followed, over kafkajs (kept behind the
 * StatusFeed interface, as the uplink is, so a maintained client can replace it).
 *
 * Each fleet server joins a consumer group of its own (so it gets every partition) and never
 * commits offsets: every start reads the whole compacted topic again, which is the point.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { Config } from '../../config/config.js';
import { backoffDelay } from '../../lib/backoff.js';
import { ensureTopics, kafkaClient } from '../../uplink/kafka-client.js';

export interface FeedRecord {
  key: Buffer | null;
  value: Buffer | null;
  /** The record's timestamp (epoch ms). */
  ts: number;
  /** False while reading what was in the topic at start, true once following it. */
  live: boolean;
}

export interface FeedHealth {
  /** Whether the topic is being read now (a fetch answered within the last few seconds). */
  connected: boolean;
  lastError: string | null;
  /** When a fetch last answered (epoch ms; null: never): everything written before was heard. */
  lastFetchTs: number | null;
}

export interface StatusFeed {
  /** Resolves once everything present in the topic at start was handed to `onRecord`. */
  start(onRecord: (r: FeedRecord) => void): Promise<void>;
  health(): FeedHealth;
  stop(): Promise<void>;
}

/**
 * The consumer fetches at least 4 times a second (maxWaitTimeInMs 250) when all is well; this
 * long without an answer means the brokers are gone or hung. Well below the time after which a
 * silent gateway counts as offline, so that the page blames Kafka before it blames a gateway.
 */
const SILENT_FEED_MS = 6000;
/**
 * The longest the feed works through records before it lets the event loop turn: HTTP requests
 * (/healthz, the page) wait at most about this long while a flood or the whole topic is read.
 */
const SLICE_MS = 10;
/**
 * kafkajs decodes a whole fetch response in one synchronous go; a smaller answer per partition
 * (a status record is a few KB) bounds that stretch too. The default is 1 MiB.
 */
const MAX_FETCH_BYTES_PER_PARTITION = 256 * 1024;

export class KafkaStatusFeed implements StatusFeed {
  private readonly kafka: Kafka;
  private consumer: Consumer | undefined;
  private stopped = false;
  private caughtUp: Promise<void> = Promise.resolve();
  /** Highest offset handed out per partition: a consumer restart re-reads, we do not re-deliver. */
  private readonly done = new Map<number, number>();
  /** Monotonic time of the last answered fetch (undefined: none yet). */
  private lastFetch: number | undefined;
  private lastError: string | null = null;

  constructor(
    private readonly cfg: Config['kafka'],
    private readonly log: Logger,
  ) {
    this.kafka = kafkaClient(cfg, `sensorgate-fleet-${hostname()}`, log.child({ component: 'kafkajs' }));
  }

  async start(onRecord: (r: FeedRecord) => void): Promise<void> {
    // Kafka may not be up yet: keep trying, as the gateway does.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.connect(onRecord);
        return await this.caughtUp;
      } catch (err) {
        if (this.stopped) return;
        const delay = backoffDelay(attempt, { initialMs: 500, maxMs: 15_000 });
        this.lastError = (err as Error).message;
        // The fleet server logs the loss and return of the feed; each retry is detail.
        this.log.debug({ err: this.lastError, retryInMs: delay }, 'cannot read the status topic yet');
        await this.consumer?.disconnect().catch(() => undefined);
        this.consumer = undefined;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  health(): FeedHealth {
    if (this.lastFetch === undefined) return { connected: false, lastError: this.lastError, lastFetchTs: null };
    const ago = performance.now() - this.lastFetch;
    return { connected: ago < SILENT_FEED_MS, lastError: this.lastError, lastFetchTs: Math.round(Date.now() - ago) };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.consumer?.disconnect().catch(() => undefined);
  }

  private async connect(onRecord: (r: FeedRecord) => void): Promise<void> {
    const topic = this.cfg.statusTopic;
    const targets = await this.prepare(topic);
    let markCaughtUp!: () => void;
    this.caughtUp = new Promise<void>((r) => {
      markCaughtUp = r;
    });
    let live = false;
    /** Per partition, the offset known to be read up to (compaction may leave gaps at the end). */
    const reached = new Map<number, number>();
    const check = () => {
      if (live || [...targets].some(([p, last]) => Math.max(reached.get(p) ?? -1, this.done.get(p) ?? -1) < last))
        return;
      live = true;
      clearTimeout(fallback);
      markCaughtUp();
    };
    // Should the end never be recognised, do not wait for ever to call the rest live.
    const fallback = setTimeout(() => {
      this.log.warn('status topic: end of the initial read not recognised within 60 s; following it from here');
      for (const [p, last] of targets) reached.set(p, last);
      check();
    }, 60_000);
    fallback.unref();
    check();
    const consumer = this.kafka.consumer({
      groupId: `sensorgate-fleet-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 250,
      maxBytesPerPartition: MAX_FETCH_BYTES_PER_PARTITION,
    });
    this.consumer = consumer;
    // kafkajs restarts a crashed consumer itself. The operator hears of the lost topic once, from
    // the fleet server's health check (see health()); each restart is detail for debugging.
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.lastError = payload.error.message;
      this.log.debug({ err: payload.error.message, restart: payload.restart }, 'status topic reader failed');
    });
    consumer.on(consumer.events.FETCH, () => {
      this.lastFetch = performance.now();
    });
    consumer.on(consumer.events.REQUEST_TIMEOUT, (e) => {
      this.lastError = `request to broker ${e.payload.broker} timed out after ${e.payload.pendingDuration} ms`;
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        this.lastFetch = performance.now();
        const p = batch.partition;
        let sliceStart = performance.now();
        for (const m of batch.messages) {
          // A batch may hold thousands of records (a flood, or the topic read at start): let
          // HTTP requests in between, so /healthz and the page answer while it is read.
          if (performance.now() - sliceStart > SLICE_MS) {
            await new Promise(setImmediate);
            sliceStart = performance.now();
          }
          const offset = Number(m.offset);
          if (offset <= (this.done.get(p) ?? -1)) continue;
          onRecord({ key: m.key, value: m.value, ts: Number(m.timestamp), live });
          this.done.set(p, offset);
        }
        if (batch.offsetLag() === '0') reached.set(p, Number(batch.highWatermark) - 1);
        check();
      },
    });
  }

  /** Create the topic if missing (as a gateway would); return the last offset present per partition. */
  private async prepare(topic: string): Promise<Map<number, number>> {
    await ensureTopics(this.kafka, this.cfg, ['status']);
    const admin: Admin = this.kafka.admin();
    try {
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(topic);
      return new Map(
        offsets.filter((o) => Number(o.high) > Number(o.low)).map((o) => [o.partition, Number(o.high) - 1]),
      );
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
