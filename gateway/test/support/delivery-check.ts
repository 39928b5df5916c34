/** What the Kafka scenario tests share: a gateway fed over MQTT, and what Kafka holds of it. */
import type { Broker } from '../../../drivers/test/support/mosquitto.js';
import { type GatewayProcess, gatewayProcess } from './gateway-process.js';
import { readTopic } from './kafka-reader.js';

export interface Delivered {
  /** (sensor/value) of every record: one per reading the publisher sent, if nothing is missing. */
  readings: string[];
  seqs: number[];
}

/** Every record of `topic` through an independent client (kcat), read_committed or not. */
export async function delivered(brokers: string[], topic: string, readCommitted = false): Promise<Delivered> {
  const records = await readTopic(brokers, topic, { readCommitted });
  return { readings: records.map((r) => `${r.value.sensor}/${r.value.value}`), seqs: records.map((r) => r.value.seq) };
}

/** The readings a publisher sent (`next[i]` values 0.. for sensor s<i>) that are not in `got`. */
export function missing(next: number[], got: Iterable<string>): string[] {
  const have = new Set(got);
  const out: string[] = [];
  next.forEach((n, s) => {
    for (let v = 0; v < n; v++) if (!have.has(`s${s}/${v}`)) out.push(`s${s}/${v}`);
  });
  return out;
}

/** A gateway reading `<name>/#` from `mqtt` and producing to topic `<name>` (3 partitions). */
export async function mqttGateway(name: string, mqtt: Broker, kafka: Record<string, unknown>): Promise<GatewayProcess> {
  return gatewayProcess({
    gateway: { id: `gw-${name}` },
    kafka: {
      topic: name,
      statusTopic: `${name}.status`,
      offsetsTopic: `${name}.offsets`,
      partitions: 3,
      batchMaxRecords: 500,
      ...kafka,
    },
    sources: [
      { id: 'plant', driver: 'mqtt', url: mqtt.url, topics: [`${name}/#`], topicPattern: `${name}/{sensor}/{metric}` },
    ],
  });
}
