/**
 * What every pipeline in the bench carries: readings from a handful of sensors, as MQTT payloads
 * (docs/reference/wire-formats.md) on `<prefix>/<sensor>/<metric>` topics, or as the Kafka records the gateway
 * would make of them (docs/reference/kafka-records.md). One definition, so the peers move the same bytes.
 */
import { encodeRecord, recordKey } from '../ingest/record.js';

export const SENSORS = 10;
/** The metric of measured readings; warm-up readings use another, so latency can skip them. */
export const METRIC = 'temp';
export const WARMUP_METRIC = 'warmup';

export function sensorOf(i: number): string {
  return `sensor-${i % SENSORS}`;
}

/** A plausible temperature that changes from reading to reading (identical payloads would flatter gzip). */
export function readingValue(i: number): number {
  return Math.round((20 + 5 * Math.sin(i / 50) + (i % 7) / 10) * 100) / 100;
}

export function topicOf(prefix: string, i: number, metric = METRIC): string {
  return `${prefix}/${sensorOf(i)}/${metric}`;
}

/** The payload; `ts` is the publish time, which end-to-end latency is measured from. */
export function payloadOf(i: number, ts: number): string {
  return `{"value":${readingValue(i)},"ts":${ts}}`;
}

/** One line for `kcat -K '\t'`: the key and value the gateway would produce for reading i. */
export function kafkaLineOf(gateway: string, i: number, ts: number): string {
  const sensor = sensorOf(i);
  const value = encodeRecord({
    gateway,
    source: 'mqtt',
    sensor,
    metric: METRIC,
    value: readingValue(i),
    ts,
    seq: i + 1,
    bootId: '6f1c2a4e-8d1b-4c3a-9e5f-2b7d0a9c8e41',
    clockSynced: true,
  });
  return `${recordKey(gateway, sensor)}\t${value}\n`;
}
