/** The readings-topic record (docs/reference/kafka-records.md): one definition, used when a reading enters the buffer. */

export interface ReadingRecord {
  gateway: string;
  source: string;
  sensor: string;
  metric: string;
  value: number;
  unit?: string;
  ts: number;
  seq: number;
  bootId: string;
  clockSynced: boolean;
}

export const READING_SCHEMA = 'reading/1';

/** Key `<gatewayId>/<sensor>`: one sensor's readings share a partition and so stay in order. */
export function recordKey(gateway: string, sensor: string): string {
  return `${gateway}/${sensor}`;
}

/** Field order is fixed (consumers and tests diff these). `unit` is left out when unknown. */
export function encodeRecord(r: ReadingRecord): string {
  return JSON.stringify({
    gateway: r.gateway,
    source: r.source,
    sensor: r.sensor,
    metric: r.metric,
    value: r.value,
    unit: r.unit,
    ts: r.ts,
    seq: r.seq,
    bootId: r.bootId,
    clockSynced: r.clockSynced,
  });
}

export function recordHeaders(gateway: string, seq: number): Record<string, string> {
  return {
    'sg-gateway': gateway,
    'sg-seq': String(seq),
    'sg-schema': READING_SCHEMA,
    'content-type': 'application/json',
  };
}
