/** PlatformaticUplink (@platformatic/kafka, `kafka.client: platformatic`) against real brokers of both supported Kafka lines. */
import { after, before, describe } from 'node:test';
import { pino } from 'pino';
import { KAFKA_VERSIONS, type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { validateConfig } from '../config/config.js';
import { PlatformaticUplink } from '../uplink/platformatic-uplink.js';
import { uplinkContract } from './uplink-contract.js';

const log = pino({ level: 'silent' });

function uplink(brokers: string[], topic: string, compression: 'gzip' | 'lz4') {
  const cfg = validateConfig({
    gateway: { id: 'gw-contract' },
    kafka: { brokers, topic, statusTopic: `${topic}.status`, partitions: 3, compression, client: 'platformatic' },
    sources: [{ id: 'x', driver: 'mqtt', url: 'mqtt://127.0.0.1:1', topics: ['x'] }],
  }).kafka;
  return new PlatformaticUplink(cfg, 'gw-contract', log);
}

for (const version of [KAFKA_VERSIONS.latest, KAFKA_VERSIONS.legacy]) {
  describe(`PlatformaticUplink on Kafka ${version}`, { concurrency: false }, () => {
    let broker: KafkaBroker;
    before(async () => {
      broker = await startKafka({ version });
    });
    after(async () => {
      await broker?.destroy();
    });

    uplinkContract(
      'platformatic-gzip',
      (brokers, topic) => uplink(brokers, topic, 'gzip'),
      () => broker,
    );
    uplinkContract(
      'platformatic-lz4',
      (brokers, topic) => uplink(brokers, topic, 'lz4'),
      () => broker,
    );
  });
}
