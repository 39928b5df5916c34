/**
 * The highest seq a gateway may already have handed out, as its statuses in the compacted status
 * topic tell it: `buffer.seqReserved` (every seq it had handed out is below it), or from a
 * gateway too old to carry that, `buffer.nextSeq`. At-least-once Kafka keeps no other record of
 * a gateway's seqs; a gateway whose data dir was lost reads this before it numbers on.
 *
 * Every partition is read to the end it had when the read began (a status producer is not
 * transactional: the last offset is a record), and the highest value among this gateway's
 * records counts: compaction may not have removed an older, higher one yet, and partitions added
 * to the topic may have moved the gateway's key.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { UplinkError, uplinkError } from './uplink.js';

const READ_TIMEOUT_MS = 60_000;

/** The highest seq one status record says was handed out; null when it says nothing of seqs. */
export function seqFloorOf(value: Buffer | string): number | null {
  let doc: { buffer?: { seqReserved?: unknown; nextSeq?: unknown } } | null;
  try {
    doc = JSON.parse(value.toString());
  } catch {
    return null;
  }
  const b = doc?.buffer;
  if (typeof b?.seqReserved === 'number') return b.seqReserved - 1;
  if (typeof b?.nextSeq === 'number') return b.nextSeq - 1;
  return null;
}

/** The highest seq `gatewayId`'s statuses in `topic` say it handed out (null: none); any failure is an UplinkError. */
export async function statusSeqFloor(kafka: Kafka, topic: string, gatewayId: string): Promise<number | null> {
  try {
    return await readStatusSeqFloor(kafka, topic, gatewayId);
  } catch (err) {
    throw uplinkError('read the seqs of earlier statuses', err);
  }
}

async function readStatusSeqFloor(kafka: Kafka, topic: string, gatewayId: string): Promise<number | null> {
  const admin = kafka.admin();
  let ends: Map<number, number>;
  try {
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(offsets.filter((o) => Number(o.high) > Number(o.low)).map((o) => [o.partition, Number(o.high) - 1]));
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  if (ends.size === 0) return null;
  const consumer = kafka.consumer({ groupId: `sensorgate-seq-floor-${randomUUID()}`, allowAutoTopicCreation: false });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    return await new Promise<number | null>((resolve, reject) => {
      let floor: number | null = null;
      const timer = setTimeout(() => reject(new UplinkError('timed out reading the status topic')), READ_TIMEOUT_MS);
      const reached = (partition: number, offset: number) => {
        if (offset >= (ends.get(partition) ?? Number.POSITIVE_INFINITY)) ends.delete(partition);
        if (ends.size > 0) return;
        clearTimeout(timer);
        resolve(floor);
      };
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              if (m.key?.toString() !== gatewayId || !m.value) continue;
              const seq = seqFloorOf(m.value);
              if (seq !== null) floor = Math.max(floor ?? 0, seq);
            }
            const last = batch.messages[batch.messages.length - 1];
            if (last) reached(batch.partition, Number(last.offset));
            if (batch.offsetLag() === '0') reached(batch.partition, Number(batch.highWatermark) - 1);
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}
