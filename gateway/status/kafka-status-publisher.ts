/**
 * StatusPublisher over kafkajs. Its own producer, apart from the readings uplink: not idempotent
 * (a duplicate heartbeat is harmless), acks=all, no kafkajs-internal patience (the heartbeat
 * simply tries again at its next tick), so a status can never hold up or reorder readings.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { ensureTopics, kafkaClient } from '../uplink/kafka-client.js';
import { type Kafka, Partitioners, type Producer } from '../uplink/kafkajs.js';
import type { StatusPublisher } from './heartbeat.js';

export const STATUS_HEADERS = { 'sg-schema': 'status/1', 'content-type': 'application/json' };

export class KafkaStatusPublisher implements StatusPublisher {
  private readonly kafka: Kafka;
  private producer: Producer | undefined;
  private topicChecked = false;

  constructor(
    private readonly cfg: Config['kafka'],
    gatewayId: string,
    log: Logger,
  ) {
    this.kafka = kafkaClient(cfg, `sensorgate-${gatewayId}`, log.child({ component: 'kafkajs-status' }));
  }

  async publish(key: string, value: string): Promise<void> {
    try {
      const producer = await this.connected();
      await producer.send({
        topic: this.cfg.statusTopic,
        acks: -1,
        timeout: 10_000,
        messages: [{ key, value, headers: STATUS_HEADERS }],
      });
    } catch (err) {
      // kafkajs does not always recover a broken producer: start afresh next time.
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    await p?.disconnect().catch(() => undefined);
  }

  private async connected(): Promise<Producer> {
    if (this.producer) return this.producer;
    if (!this.topicChecked) {
      // The uplink creates the topics too; this covers a gateway whose uplink has not got that far.
      await ensureTopics(this.kafka, this.cfg);
      this.topicChecked = true;
    }
    const producer = this.kafka.producer({
      idempotent: false,
      allowAutoTopicCreation: false,
      // murmur2 as the Java client: every record of a gateway lands on the partition compaction keeps it in.
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 1, initialRetryTime: 300, maxRetryTime: 1000 },
    });
    this.producer = producer;
    await producer.connect();
    return producer;
  }
}
