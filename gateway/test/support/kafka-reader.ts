/** Reads a topic with kcat: an independent client checks what actually reached Kafka. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface KafkaRecord {
  partition: number;
  offset: number;
  key: string;
  value: any;
  headers: Record<string, string>;
}

/** Every record of `topic`; `readCommitted` reads as a transactional consumer does (isolation.level=read_committed). */
export async function readTopic(
  brokers: string[],
  topic: string,
  opts: { readCommitted?: boolean } = {},
): Promise<KafkaRecord[]> {
  const isolation = opts.readCommitted ? ['-X', 'isolation.level=read_committed'] : [];
  // kcat -e can wait forever when it starts while the topic is being created; a caller that
  // polls (waitFor) retries after the timeout instead of hanging. -u: unbuffered; reads under load
  // twice returned a line cut short, and unbuffered output rules kcat's stdio buffer out as the cause.
  const { stdout } = await run(
    'kcat',
    ['-C', '-J', '-u', '-e', '-q', '-b', brokers.join(','), '-t', topic, '-o', 'beginning', ...isolation],
    { maxBuffer: 1 << 30, timeout: 120_000 },
  );
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const r = JSON.parse(line);
      const headers: Record<string, string> = {};
      const h: string[] = r.headers ?? [];
      for (let i = 0; i < h.length; i += 2) headers[h[i]!] = h[i + 1]!;
      return { partition: r.partition, offset: r.offset, key: r.key, value: JSON.parse(r.payload), headers };
    });
}

/** Records of each sensor in Kafka order (offset order within its partition). */
export function bySensor(records: KafkaRecord[]): Map<string, KafkaRecord[]> {
  const m = new Map<string, KafkaRecord[]>();
  const sorted = [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  for (const r of sorted) {
    const list = m.get(r.value.sensor) ?? [];
    list.push(r);
    m.set(r.value.sensor, list);
  }
  return m;
}

/** A seq names one reading only: no seq was handed out twice. */
export function assertSeqsUnique(records: KafkaRecord[]): void {
  const bySeq = new Map<number, string>();
  for (const r of records) {
    const id = `${r.value.sensor}/${r.value.value}`;
    const seen = bySeq.get(r.value.seq);
    assert.ok(seen === undefined || seen === id, `seq ${r.value.seq} names two readings: ${seen} and ${id}`);
    bySeq.set(r.value.seq, id);
  }
}
