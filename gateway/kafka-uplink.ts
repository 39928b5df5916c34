/**
 * Uplinks over kafkajs. Both send our records verbatim with acks=all and compression:
 * - KafkaUplink (at-least-once): an idempotent producer.
 * - TransactionalKafkaUplink (exactly-once, as Kafka Connect's exactly-once sources, KIP-618):
 *   each batch and a record of its highest seq (in a compacted offsets topic keyed by gateway id)
 *   are committed in one Kafka transaction under a stable transactional id. connect() fences any
 *   older session of the gateway and reads back the last committed seq with read_committed.
 */
import { randomUUID } from 'node:crypto';
import { CompressionTypes, Kafka, logLevel, Partitioners, type Message, type Producer, type SASLOptions, type Transaction } from 'kafkajs';
import type { Logger } from 'pino';
import type { StoredRecord } from './buffer.js';
import type { Config } from './config.js';
import { registerLz4 } from './lz4-codec.js';
import { recordHeaders } from './record.js';
import { UplinkError, type Connected, type Uplink } from './uplink.js';

const COMPRESSION = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, lz4: CompressionTypes.LZ4 } as const;
const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);
/** Few retries inside kafkajs: the forwarder rebuilds the producer and retries forever. */
const RETRY = { retries: 2, initialRetryTime: 300, maxRetryTime: 3000 };
/** All offsets records share one partition, so one ordered log answers "what was committed last". */
const OFFSETS_PARTITION = 0;

/** kafkajs wraps protocol errors (retries exceeded, aggregate); find the broker's verdict. */
function protocolType(err: unknown): string | undefined {
  for (let e: any = err, depth = 0; e && depth < 5; depth++) {
    if (typeof e.type === 'string') return e.type;
    e = e.originalError ?? e.cause ?? e.errors?.[0];
  }
  return undefined;
}

function uplinkError(stage: string, err: unknown): UplinkError {
  const type = protocolType(err);
  return new UplinkError(`${stage}: ${(err as Error).message}`, type && TOO_LARGE.has(type) ? 'too_large' : 'unavailable', { cause: err });
}

export function kafkaClient(cfg: Config['kafka'], gatewayId: string, log: Logger): Kafka {
  return new Kafka({
    clientId: cfg.clientId ?? `sensorgate-${gatewayId}`,
    brokers: [...cfg.brokers],
    ssl: cfg.ssl,
    sasl: cfg.sasl ? ({ ...cfg.sasl } as SASLOptions) : undefined,
    connectionTimeout: 5000,
    requestTimeout: 30_000,
    retry: RETRY,
    logLevel: logLevel.WARN,
    // kafkajs reports every failed request of an outage, with stack traces. What an operator
    // needs (down with the reason, back, a summary while it lasts) is logged by whoever owns the
    // connection (forwarder, heartbeat, fleet feed); kafkajs' own lines are detail for debugging.
    logCreator: () => ({ log: entry }) => {
      const { message, ...extra } = entry;
      log.debug({ kafkajs: extra }, message);
    },
  });
}

/** What both uplinks share: client, topics, producer lifecycle, record encoding. */
abstract class KafkaUplinkBase implements Uplink {
  protected producer: Producer | undefined;
  protected readonly kafka: Kafka;

  constructor(protected readonly cfg: Config['kafka'], protected readonly gatewayId: string, log: Logger) {
    this.kafka = kafkaClient(cfg, gatewayId, log.child({ component: 'kafkajs' }));
  }

  protected abstract createProducer(): Producer;
  /** Runs once per fresh producer; returns what connect() reports. */
  protected abstract onConnected(producer: Producer): Promise<Connected>;
  abstract send(records: StoredRecord[]): Promise<void>;

  async connect(): Promise<Connected> {
    if (this.cfg.compression === 'lz4') await registerLz4();
    await ensureTopics(this.kafka, this.cfg);
    await this.close();
    const producer = this.createProducer();
    try {
      await producer.connect();
      const connected = await this.onConnected(producer);
      this.producer = producer;
      return connected;
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      throw err instanceof UplinkError ? err : uplinkError('connect', err);
    }
  }

  async check(): Promise<void> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      await admin.fetchTopicMetadata({ topics: [this.cfg.topic] });
    } catch (err) {
      throw uplinkError('connection check', err);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    await p?.disconnect().catch(() => undefined);
  }

  protected connectedProducer(): Producer {
    if (!this.producer) throw new UplinkError('not connected', 'unavailable');
    return this.producer;
  }

  protected readings(records: StoredRecord[]) {
    return {
      topic: this.cfg.topic,
      acks: -1,
      timeout: 30_000,
      compression: COMPRESSION[this.cfg.compression],
      messages: records.map((r): Message => ({ key: r.key, value: r.value, headers: recordHeaders(this.gatewayId, r.seq) })),
    };
  }
}

export class KafkaUplink extends KafkaUplinkBase {
  protected createProducer(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // murmur2, as the Java client: a key lands on the same partition whoever produces it.
      createPartitioner: Partitioners.DefaultPartitioner,
      // Duplicates a rebuilt producer may cause carry the same (gateway, seq): consumers dedupe on it.
      retry: RETRY,
    });
  }

  protected async onConnected(): Promise<Connected> {
    return { committedSeq: null };
  }

  async send(records: StoredRecord[]): Promise<void> {
    try {
      await this.connectedProducer().send(this.readings(records));
    } catch (err) {
      throw uplinkError('send', err);
    }
  }
}

interface OffsetsRecord { gateway: string; seq: number | null; probe?: string; ts: number }

export class TransactionalKafkaUplink extends KafkaUplinkBase {
  protected createProducer(): Producer {
    return this.kafka.producer({
      // Stable per gateway: a new session fences the old one, whose open transaction is aborted.
      transactionalId: `sensorgate-${this.gatewayId}`,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: RETRY,
    });
  }

  /**
   * Fence older sessions, then find the last committed seq. Reading a topic "to its end" with
   * read_committed is unreliable (control markers occupy the last offsets), so we commit a probe
   * record with a fresh id in our own, now only, session and read until we meet it: everything
   * committed before the probe precedes it in the partition.
   */
  protected async onConnected(producer: Producer): Promise<Connected> {
    const probe = randomUUID();
    const tx = await producer.transaction(); // InitProducerId: fences and completes older sessions
    await this.inTransaction(tx, () => tx.send(this.offsetsRecord({ gateway: this.gatewayId, seq: null, probe, ts: Date.now() }, `${this.gatewayId}#probe`)));
    return { committedSeq: await this.readCommittedSeq(probe) };
  }

  async send(records: StoredRecord[]): Promise<void> {
    const producer = this.connectedProducer();
    let tx: Transaction;
    try {
      tx = await producer.transaction();
    } catch (err) {
      throw uplinkError('begin', err);
    }
    const last = records[records.length - 1]!.seq;
    await this.inTransaction(tx, async () => {
      await tx.send(this.readings(records));
      await tx.send(this.offsetsRecord({ gateway: this.gatewayId, seq: last, ts: Date.now() }, this.gatewayId));
    });
  }

  private async inTransaction(tx: Transaction, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (err) {
      await tx.abort().catch(() => undefined);
      throw uplinkError('send', err);
    }
    try {
      await tx.commit();
    } catch (err) {
      // Outcome unknown: the next connect() fences this session and reads what was committed.
      throw uplinkError('commit', err);
    }
  }

  private offsetsRecord(value: OffsetsRecord, key: string) {
    return { topic: this.cfg.offsetsTopic, acks: -1, messages: [{ key, value: JSON.stringify(value), partition: OFFSETS_PARTITION }] };
  }

  private async readCommittedSeq(probe: string): Promise<number | null> {
    const consumer = this.kafka.consumer({ groupId: `sensorgate-offsets-reader-${randomUUID()}`, readUncommitted: false, allowAutoTopicCreation: false });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: this.cfg.offsetsTopic, fromBeginning: true });
      return await new Promise<number | null>((resolve, reject) => {
        let seq: number | null = null;
        const timer = setTimeout(() => reject(new UplinkError('timed out reading the committed seq', 'unavailable')), 60_000);
        consumer.run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            if (partition !== OFFSETS_PARTITION || !message.value) return;
            const v = JSON.parse(message.value.toString()) as OffsetsRecord;
            if (v.gateway !== this.gatewayId) return;
            if (v.probe === probe) { clearTimeout(timer); resolve(seq); }
            else if (v.seq !== null) seq = Math.max(seq ?? 0, v.seq);
          },
        }).catch(reject);
      });
    } catch (err) {
      throw err instanceof UplinkError ? err : uplinkError('read committed seq', err);
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }
}

/**
 * Settings of the compacted status topic. Segments roll every 10 minutes so the log cleaner can
 * compact them: a fleet server reading the topic at start reads about one record per gateway
 * plus the last minutes, not days of heartbeats.
 */
export const STATUS_TOPIC_CONFIG = [
  { name: 'cleanup.policy', value: 'compact' },
  { name: 'segment.ms', value: String(10 * 60_000) },
];

/** Create the readings topic, the compacted status topic and (exactly-once) the compacted offsets topic when missing. */
export async function ensureTopics(kafka: Kafka, cfg: Config['kafka']): Promise<void> {
  const admin = kafka.admin();
  const compacted = [{ name: 'cleanup.policy', value: 'compact' }];
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const topics = [
      { topic: cfg.topic, numPartitions: cfg.partitions, replicationFactor: cfg.replicationFactor },
      { topic: cfg.statusTopic, numPartitions: cfg.partitions, replicationFactor: cfg.replicationFactor, configEntries: STATUS_TOPIC_CONFIG },
      ...(cfg.delivery === 'exactly-once' ? [{ topic: cfg.offsetsTopic, numPartitions: 1, replicationFactor: cfg.replicationFactor, configEntries: compacted }] : []),
    ].filter((t) => !existing.has(t.topic));
    if (topics.length) {
      await admin.createTopics({ topics, waitForLeaders: true }).catch((err: Error) => {
        // Another gateway may have created it a moment ago.
        if (protocolType(err) !== 'TOPIC_ALREADY_EXISTS') throw err;
      });
    }
  } catch (err) {
    throw new UplinkError(`topics: ${(err as Error).message}`, 'unavailable', { cause: err });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export function createUplink(cfg: Config['kafka'], gatewayId: string, log: Logger): Uplink {
  return cfg.delivery === 'exactly-once' ? new TransactionalKafkaUplink(cfg, gatewayId, log) : new KafkaUplink(cfg, gatewayId, log);
}
