/** The uplink a config asks for: its client library (`kafka.client`) and delivery promise (`kafka.delivery`). */
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { KafkaUplink, TransactionalKafkaUplink } from './kafka-uplink.js';
import type { Uplink } from './uplink.js';

export async function createUplink(cfg: Config['kafka'], gatewayId: string, log: Logger): Promise<Uplink> {
  // Loaded only when chosen: @platformatic/kafka would add about 25 MiB to every gateway's memory.
  // Config validation refuses platformatic with exactly-once.
  if (cfg.client === 'platformatic') {
    const { PlatformaticUplink } = await import('./platformatic-uplink.js');
    return new PlatformaticUplink(cfg, gatewayId, log);
  }
  return cfg.delivery === 'exactly-once'
    ? new TransactionalKafkaUplink(cfg, gatewayId, log)
    : new KafkaUplink(cfg, gatewayId, log);
}
