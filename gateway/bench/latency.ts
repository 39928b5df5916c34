/**
 * End-to-end latency: from the publish time a reading carries in its `ts` to the moment Kafka
 * appended it to the log (the measurement topics use log-append time, so the broker's clock
 * stamps each batch; broker and publisher share this machine's clock).
 */
import { createInterface } from 'node:readline';
import { expectSuccess, spawnTracked } from './proc.js';

export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles. */
export function percentiles(values: number[]): Percentiles | undefined {
  if (values.length === 0) return undefined;
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { count: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: sorted[sorted.length - 1]! };
}

/**
 * Read the whole topic with kcat, streaming: each record's log-append time and value, each
 * partition in offset order. `readCommitted` reads as exactly-once consumers must: only records
 * of committed transactions (their append time is still when the broker appended them, before the commit).
 */
export async function scanTopic(
  brokers: string[],
  topic: string,
  onRecord: (appendedAt: number, value: string) => void,
  o: { readCommitted?: boolean } = {},
): Promise<void> {
  const isolation = o.readCommitted ? ['-X', 'isolation.level=read_committed'] : [];
  const kcat = spawnTracked(
    'kcat',
    ['-C', '-b', brokers.join(','), '-t', topic, ...isolation, '-o', 'beginning', '-e', '-q', '-f', '%T %s\\n'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const ok = expectSuccess('kcat (consumer)', kcat);
  for await (const line of createInterface({ input: kcat.stdout! })) {
    const space = line.indexOf(' ');
    onRecord(Number(line.slice(0, space)), line.slice(space + 1));
  }
  await ok;
}

/** The `ts` (publish time) a record's JSON value carries. */
export function publishedAt(value: string): number {
  return Number(/"ts":(\d+)/.exec(value)?.[1]);
}

/** Append time - `ts` (ms) of the topic's readings of `metric`. */
export async function kafkaLatencies(
  brokers: string[],
  topic: string,
  metric: string,
  o: { readCommitted?: boolean } = {},
): Promise<Percentiles | undefined> {
  const wanted = `"metric":"${metric}"`;
  const latencies: number[] = [];
  await scanTopic(
    brokers,
    topic,
    (appended, value) => {
      if (!value.includes(wanted)) return;
      const ts = publishedAt(value);
      if (Number.isFinite(appended) && Number.isFinite(ts)) latencies.push(appended - ts);
    },
    o,
  );
  return percentiles(latencies);
}
