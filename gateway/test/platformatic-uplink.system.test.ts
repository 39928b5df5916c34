/** PlatformaticUplink (@platformatic/kafka, `kafka.client: platformatic`) against real brokers of both supported Kafka lines. */
import { after, before, describe } from 'node:test';
import { pino } from 'pino';
import { KAFKA_VERSIONS, type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { PlatformaticUplink } from '../uplink/platformatic-uplink.js';
import { contractKafkaConfig, uplinkContract } from './uplink-contract.js';

const log = pino({ level: 'silent' });

function uplink(brokers: string[], topic: string, compression: 'gzip' | 'lz4') {
  return new PlatformaticUplink(
    contractKafkaConfig(brokers, topic, { compression, client: 'platformatic' }),
    'gw-contract',
    log,
  );
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
