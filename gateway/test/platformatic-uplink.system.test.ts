/** PlatformaticUplink (@platformatic/kafka, `kafka.client: platformatic`) against real brokers of both supported Kafka lines. */
import { pino } from 'pino';
import { PlatformaticUplink } from '../uplink/platformatic-uplink.js';
import { contractKafkaConfig, onEachKafkaLine, uplinkContract } from './uplink-contract.js';

const log = pino({ level: 'silent' });

function uplink(brokers: string[], topic: string, compression: 'gzip' | 'lz4') {
  return new PlatformaticUplink(
    contractKafkaConfig(brokers, topic, { compression, client: 'platformatic' }),
    'gw-contract',
    log,
  );
}

onEachKafkaLine('PlatformaticUplink', (broker) => {
  uplinkContract('platformatic-gzip', (brokers, topic) => uplink(brokers, topic, 'gzip'), broker);
  uplinkContract('platformatic-lz4', (brokers, topic) => uplink(brokers, topic, 'lz4'), broker);
});
