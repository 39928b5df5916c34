/**
 * Uplinks over kafkajs. Both send our records verbatim with acks=all and compression:
 * - KafkaUplink (at-least-once): an idempotent producer.
 * - TransactionalKafkaUplink (exactly-once, as Kafka Connect's exactly-once sources, KIP-618):
 *   each batch and a record of its highest seq (in a compacted offsets topic keyed by gateway id)
 *   are committed in one Kafka transaction under a stable transactional id. connect() fences any
 *   older session of the gateway and reads back the last committed seq with read_committed.
 *
 * One produce request per partition, and each checked. kafkajs can resolve a send() spanning
 * several brokers although some partitions got no answer: after a leader moves, its retry skips
 * every broker that had already answered, including the one that now leads the moved partition
 * (a known, still open kafkajs bug). A request for one partition goes to one broker, and we accept it only
 * with that partition's acknowledgement in hand. It also confines a refusal to its partition:
 * kafkajs rolls back the idempotence sequence numbers of every partition in a failed request,
 * also those that were written, after which the broker answers "out of order sequence number"
 * to each resend. Per partition, the rollback is exactly right, so a refused record can be
 * isolated by splitting its partition's records, as the Java client splits a batch, with no
 * sequence error, no duplicate, and in order.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, Message, Producer, ProducerRecord, RecordMetadata } from 'kafkajs';
import type { Logger } from 'pino';
import type { StoredRecord } from '../buffer/buffer.js';
import type { Config } from '../config/config.js';
import { recordHeaders } from '../ingest/record.js';
import {
  brokerErrorType,
  CLIENT_RETRY,
  compressionType,
  ensureTopics,
  kafkaClient,
  partitionCount,
} from './kafka-client.js';
import type { RecordInput } from './kafkajs-record-encoder.js';
import { PartitionedSender } from './partitioned-send.js';
import { statusSeqFloor } from './status-seq-floor.js';
import { type Connected, type Refusal, type Uplink, UplinkError, uplinkError } from './uplink.js';

/** All offsets records share one partition, so one ordered log answers "what was committed last". */
const OFFSETS_PARTITION = 0;

/** Throws unless the broker acknowledged `partition` of `topic` without error. */
function acknowledged(meta: RecordMetadata[], topic: string, partition: number): void {
  const m = meta.find((x) => x.topicName === topic && x.partition === partition);
  if (!m) throw new UplinkError(`send: no acknowledgement for ${topic} partition ${partition}`);
  if (m.errorCode !== 0) throw new UplinkError(`send: ${topic} partition ${partition} answered error ${m.errorCode}`);
}

type Send = (record: ProducerRecord) => Promise<RecordMetadata[]>;

/** What both uplinks share: client, topics, producer lifecycle, record encoding, checked per-partition sends. */
abstract class KafkaUplinkBase implements Uplink {
  protected producer: Producer | undefined;
  protected readonly kafka: Kafka;
  private readonly sender: PartitionedSender;

  constructor(
    protected readonly cfg: Config['kafka'],
    protected readonly gatewayId: string,
    log: Logger,
  ) {
    this.kafka = kafkaClient(cfg, `sensorgate-${gatewayId}`, log.child({ component: 'kafkajs' }));
    this.sender = new PartitionedSender(cfg.topic, brokerErrorType);
  }

  protected abstract createProducer(): Producer;
  /** Runs once per fresh producer; returns what connect() reports. */
  protected abstract onConnected(producer: Producer): Promise<Connected>;
  abstract send(records: StoredRecord[]): Promise<{ refused: Refusal[] }>;

  async connect(): Promise<Connected> {
    await this.close();
    const producer = this.createProducer();
    try {
      await ensureTopics(this.kafka, this.cfg);
      this.sender.setPartitionCount(await partitionCount(this.kafka, this.cfg.topic));
      await producer.connect();
      const connected = await this.onConnected(producer);
      this.producer = producer;
      return connected;
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      throw uplinkError('connect', err);
    }
  }

  /** What the gateway's statuses say of the seqs it handed out (see status-seq-floor.ts). */
  seqFloor(): Promise<number | null> {
    return statusSeqFloor(this.kafka, this.cfg.statusTopic, this.gatewayId);
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
    if (!this.producer) throw new UplinkError('not connected');
    return this.producer;
  }

  /** Send every record, partition by partition in batch order, each request checked; returns the refused. */
  protected sendReadings(send: Send, records: StoredRecord[]): Promise<Refusal[]> {
    return this.sender.send(async (partition, list) => {
      const meta = await send({
        topic: this.cfg.topic,
        acks: -1,
        timeout: 30_000,
        compression: compressionType(this.cfg),
        // kafkajs copies each message into {...message, offsetDelta, timestampDelta} to encode it.
        // Created with both already, the copy is a clone of the same shape (15 ns here); without
        // them V8 builds it property by property, about 950 ns a reading.
        messages: list.map((r): Message & Pick<RecordInput, 'offsetDelta' | 'timestampDelta'> => ({
          key: r.key,
          value: r.value,
          partition,
          headers: recordHeaders(this.gatewayId, r.seq),
          offsetDelta: 0,
          timestampDelta: 0,
        })),
      });
      acknowledged(meta, this.cfg.topic, partition);
    }, records);
  }
}

export class KafkaUplink extends KafkaUplinkBase {
  protected createProducer(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Duplicates a rebuilt producer may cause carry the same (gateway, seq): consumers dedupe on it.
      retry: CLIENT_RETRY,
    });
  }

  protected async onConnected(): Promise<Connected> {
    return { committedSeq: null };
  }

  async send(records: StoredRecord[]): Promise<{ refused: Refusal[] }> {
    const producer = this.connectedProducer();
    return { refused: await this.sendReadings((r) => producer.send(r), records) };
  }
}

interface OffsetsRecord {
  gateway: string;
  seq: number | null;
  probe?: string;
  ts: number;
}

export class TransactionalKafkaUplink extends KafkaUplinkBase {
  /** What the last connect() read back. */
  private committedSeq: number | null = null;

  protected createProducer(): Producer {
    return this.kafka.producer({
      // Stable per gateway: a new session fences the old one, whose open transaction is aborted.
      transactionalId: `sensorgate-${this.gatewayId}`,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      retry: CLIENT_RETRY,
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
    await this.inTransaction(producer, (send) =>
      this.sendOffsets(send, { gateway: this.gatewayId, seq: null, probe, ts: Date.now() }, `${this.gatewayId}#probe`),
    );
    this.committedSeq = await this.readCommittedSeq(probe);
    return { committedSeq: this.committedSeq };
  }

  /**
   * The committed seq; and the statuses' word, should it be higher: readings this gateway sent
   * before it was switched to exactly-once have no committed seq.
   */
  override async seqFloor(): Promise<number | null> {
    const statuses = await super.seqFloor();
    if (statuses === null) return this.committedSeq;
    return Math.max(statuses, this.committedSeq ?? 0);
  }

  async send(records: StoredRecord[]): Promise<{ refused: Refusal[] }> {
    const last = records[records.length - 1]!.seq;
    let refused: Refusal[] = [];
    await this.inTransaction(this.connectedProducer(), async (send) => {
      refused = await this.sendReadings(send, records);
      await this.sendOffsets(send, { gateway: this.gatewayId, seq: last, ts: Date.now() }, this.gatewayId);
    });
    return { refused };
  }

  /** Commit only when every send of the transaction was acknowledged; abort on anything else. */
  private async inTransaction(producer: Producer, work: (send: Send) => Promise<unknown>): Promise<void> {
    let tx: Awaited<ReturnType<Producer['transaction']>>;
    try {
      tx = await producer.transaction(); // the first one also fences and completes older sessions
    } catch (err) {
      throw uplinkError('begin', err);
    }
    try {
      await work((r) => tx.send(r));
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

  private async sendOffsets(send: Send, value: OffsetsRecord, key: string): Promise<void> {
    const topic = this.cfg.offsetsTopic;
    acknowledged(
      await send({ topic, acks: -1, messages: [{ key, value: JSON.stringify(value), partition: OFFSETS_PARTITION }] }),
      topic,
      OFFSETS_PARTITION,
    );
  }

  private async readCommittedSeq(probe: string): Promise<number | null> {
    const consumer = this.kafka.consumer({
      groupId: `sensorgate-offsets-reader-${randomUUID()}`,
      readUncommitted: false,
      allowAutoTopicCreation: false,
    });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: this.cfg.offsetsTopic, fromBeginning: true });
      return await new Promise<number | null>((resolve, reject) => {
        let seq: number | null = null;
        const timer = setTimeout(() => reject(new UplinkError('timed out reading the committed seq')), 60_000);
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              if (partition !== OFFSETS_PARTITION || !message.value) return;
              const v = JSON.parse(message.value.toString()) as OffsetsRecord;
              if (v.gateway !== this.gatewayId) return;
              if (v.probe === probe) {
                clearTimeout(timer);
                resolve(seq);
              } else if (v.seq !== null) seq = Math.max(seq ?? 0, v.seq);
            },
          })
          .catch(reject);
      });
    } catch (err) {
      throw uplinkError('read committed seq', err);
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }
}
