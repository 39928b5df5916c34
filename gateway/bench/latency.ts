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
 * Read the whole topic with kcat and return append time - `ts` (ms) of the readings of `metric`.
 * `readCommitted` reads as exactly-once consumers must: only records of committed transactions
 * (their append time is still when the broker appended them, before the commit).
 */
export async function kafkaLatencies(
  brokers: string[],
  topic: string,
  metric: string,
  o: { readCommitted?: boolean } = {},
): Promise<Percentiles | undefined> {
  const isolation = o.readCommitted ? ['-X', 'isolation.level=read_committed'] : [];
  const kcat = spawnTracked(
    'kcat',
    ['-C', '-b', brokers.join(','), '-t', topic, ...isolation, '-o', 'beginning', '-e', '-q', '-f', '%T %s\\n'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const ok = expectSuccess('kcat (consumer)', kcat);
  const wanted = `"metric":"${metric}"`;
  const latencies: number[] = [];
  for await (const line of createInterface({ input: kcat.stdout! })) {
    if (!line.includes(wanted)) continue;
    const appended = Number(line.slice(0, line.indexOf(' ')));
    const ts = Number(/"ts":(\d+)/.exec(line)?.[1]);
    if (Number.isFinite(appended) && Number.isFinite(ts)) latencies.push(appended - ts);
  }
  await ok;
  return percentiles(latencies);
}
