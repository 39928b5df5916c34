/**
 * The at-least-once uplink over @platformatic/kafka (`kafka.client: platformatic`), a maintained
 * pure-JS client, next to the kafkajs one (kafka-uplink.ts), which stays the default. It sends
 * our records verbatim with an idempotent producer, acks=all and compression, one checked request
 * per partition (partitioned-send.ts). Sequence numbers of a partition advance only with its
 * acknowledgement, so a refused request can be split and resent as with kafkajs.
 *
 * Topic creation and the status seq floor go through the shared helpers of kafka-client.ts and
 * status-seq-floor.ts (a kafkajs admin and consumer, at connect and once per fresh buffer): the
 * topics and their settings are defined once for every client, and only the produce path, where
 * the time goes, differs. Exactly-once is not built on this client; config validation refuses it.
 */
import { ProduceAcks, Producer, type ProducerOptions, stringSerializers } from '@platformatic/kafka';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { StoredRecord } from '../buffer/buffer.js';
import type { Config } from '../config/config.js';
import { recordHeaders } from '../ingest/record.js';
import { CLIENT_RETRY, ensureTopics, kafkaClient, tlsOptions } from './kafka-client.js';
import { PartitionedSender } from './partitioned-send.js';
import { statusSeqFloor } from './status-seq-floor.js';
import { type Connected, type Refusal, type Uplink, UplinkError, uplinkError } from './uplink.js';

type StringProducer = Producer<string, string, string, string>;

const SASL_MECHANISMS = { plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' } as const;

/** The broker's error name (MESSAGE_TOO_LARGE…) inside what @platformatic/kafka threw (errors nest per broker and retry). */
export function protocolErrorName(err: unknown, depth = 0): string | undefined {
  if (!err || typeof err !== 'object' || depth > 5) return undefined;
  const e = err as { apiId?: unknown; errors?: unknown[]; cause?: unknown };
  if (typeof e.apiId === 'string') return e.apiId;
  for (const inner of [...(e.errors ?? []), e.cause]) {
    const name = protocolErrorName(inner, depth + 1);
    if (name) return name;
  }
  return undefined;
}

function producerOptions(cfg: Config['kafka'], clientId: string): ProducerOptions<string, string, string, string> {
  const tls = tlsOptions(cfg);
  return {
    clientId: cfg.clientId ?? clientId,
    bootstrapBrokers: [...cfg.brokers],
    tls: tls === false ? undefined : tls === true ? {} : tls,
    sasl: cfg.sasl
      ? { mechanism: SASL_MECHANISMS[cfg.sasl.mechanism], username: cfg.sasl.username, password: cfg.sasl.password }
      : undefined,
    connectTimeout: 5000,
    requestTimeout: 30_000,
    // The produce request's own timeout: how long the leader waits for the in-sync replicas.
    timeout: 30_000,
    // Few retries inside the client, as with kafkajs: the forwarder rebuilds the uplink and retries forever.
    // (Left unset, an idempotent producer here retries without end.)
    retries: CLIENT_RETRY.retries,
    retryDelay: CLIENT_RETRY.initialRetryTime,
    idempotent: true,
    acks: ProduceAcks.ALL,
    compression: cfg.compression,
    autocreateTopics: false,
    serializers: stringSerializers,
  };
}

export class PlatformaticUplink implements Uplink {
  private producer: StringProducer | undefined;
  /** For topic creation and the status seq floor, shared with the kafkajs uplinks. */
  private readonly kafka: Kafka;
  private readonly sender: PartitionedSender;

  constructor(
    private readonly cfg: Config['kafka'],
    private readonly gatewayId: string,
    log: Logger,
  ) {
    this.kafka = kafkaClient(cfg, `sensorgate-${gatewayId}`, log.child({ component: 'kafkajs' }));
    this.sender = new PartitionedSender(cfg.topic, protocolErrorName);
  }

  async connect(): Promise<Connected> {
    await this.close();
    const producer: StringProducer = new Producer(producerOptions(this.cfg, `sensorgate-${this.gatewayId}`));
    try {
      await ensureTopics(this.kafka, this.cfg);
      const meta = await producer.metadata({ topics: [this.cfg.topic], forceUpdate: true });
      this.sender.setPartitionCount(meta.topics.get(this.cfg.topic)!.partitionsCount);
      // Now rather than on the first send: connect() is where an unreachable cluster must show.
      await producer.initIdempotentProducer({});
      this.producer = producer;
      return { committedSeq: null };
    } catch (err) {
      await producer.close().catch(() => undefined);
      throw uplinkError('connect', err);
    }
  }

  seqFloor(): Promise<number | null> {
    return statusSeqFloor(this.kafka, this.cfg.statusTopic, this.gatewayId);
  }

  async send(records: StoredRecord[]): Promise<{ refused: Refusal[] }> {
    const producer = this.connectedProducer();
    const topic = this.cfg.topic;
    const refused = await this.sender.send(async (partition, list) => {
      const { offsets } = await producer.send({
        messages: list.map((r) => ({
          topic,
          partition,
          key: r.key,
          value: r.value,
          headers: recordHeaders(this.gatewayId, r.seq),
        })),
      });
      if (!offsets?.some((o) => o.topic === topic && o.partition === partition))
        throw new UplinkError(`send: no acknowledgement for ${topic} partition ${partition}`);
    }, records);
    return { refused };
  }

  async check(): Promise<void> {
    try {
      await this.connectedProducer().metadata({ topics: [this.cfg.topic], forceUpdate: true });
    } catch (err) {
      throw uplinkError('connection check', err);
    }
  }

  async close(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    await p?.close().catch(() => undefined);
  }

  private connectedProducer(): StringProducer {
    if (!this.producer) throw new UplinkError('not connected');
    return this.producer;
  }
}
