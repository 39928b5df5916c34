/** The uplink a config asks for: its client library (`kafka.client`) and delivery promise (`kafka.delivery`). */
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { KafkaUplink, TransactionalKafkaUplink } from './kafka-uplink.js';
import { PlatformaticUplink } from './platformatic-uplink.js';
import type { Uplink } from './uplink.js';

export function createUplink(cfg: Config['kafka'], gatewayId: string, log: Logger): Uplink {
  // Config validation refuses platformatic with exactly-once.
  if (cfg.client === 'platformatic') return new PlatformaticUplink(cfg, gatewayId, log);
  return cfg.delivery === 'exactly-once'
    ? new TransactionalKafkaUplink(cfg, gatewayId, log)
    : new KafkaUplink(cfg, gatewayId, log);
}
