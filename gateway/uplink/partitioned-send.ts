/**
 * How every uplink sends a batch, whichever client library carries it: one produce request per
 * partition, in partition order, each checked; a request the broker refuses for its records is
 * split until the refused record stands alone, as the Java client splits a batch. Partitions are
 * chosen here, with murmur2 as the Java client does, so a key lands on the same partition
 * whichever client produced it.
 */
import type { StoredRecord } from '../buffer/buffer.js';
import { Partitioners, type PartitionMetadata } from './kafkajs.js';
import { type Refusal, uplinkError } from './uplink.js';

/** Broker verdicts on the records themselves: resending the same records can never succeed. */
const REFUSALS: Record<string, Refusal['reason']> = {
  MESSAGE_TOO_LARGE: 'kafka_too_large',
  RECORD_LIST_TOO_LARGE: 'kafka_too_large',
  INVALID_RECORD: 'kafka_refused',
};

/** Keys whose partition is remembered at most (see partitionOfKey). */
const PARTITION_CACHE_KEYS = 10_000;

/** Sends `records`, all for `partition`, in one request; resolves only once that partition is acknowledged. */
export type PartitionSend = (partition: number, records: StoredRecord[]) => Promise<void>;

export class PartitionedSender {
  private readonly partitioner = Partitioners.DefaultPartitioner();
  private partitionMetadata: PartitionMetadata[] = [];
  /**
   * Partition of each key seen since the partitions were counted. Keys are per sensor, so a batch
   * of thousands of readings has few: murmur2 per record was a measurable share of the CPU.
   * Emptied when it grows past PARTITION_CACHE_KEYS, as sensor names come from devices.
   */
  private partitionOfKey = new Map<string, number>();

  /** `errorType` finds the broker's error name (MESSAGE_TOO_LARGE…) in what the client threw. */
  constructor(
    private readonly topic: string,
    private readonly errorType: (err: unknown) => string | undefined,
  ) {}

  /** Counted afresh on every connect: partitions added to the topic are used after a reconnect. */
  setPartitionCount(n: number): void {
    this.partitionMetadata = Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0 }) as PartitionMetadata);
    this.partitionOfKey = new Map();
  }

  /** Send every record, partition by partition in batch order, each request checked; returns the refused. */
  async send(send: PartitionSend, records: StoredRecord[]): Promise<Refusal[]> {
    const byPartition = new Map<number, StoredRecord[]>();
    for (const r of records) {
      const p = this.partitionOf(r.key);
      const list = byPartition.get(p);
      if (list) list.push(r);
      else byPartition.set(p, [r]);
    }
    const refused: Refusal[] = [];
    for (const [p, list] of [...byPartition].sort((a, b) => a[0] - b[0]))
      await this.sendPartition(send, p, list, refused);
    return refused;
  }

  private partitionOf(key: string): number {
    let p = this.partitionOfKey.get(key);
    if (p === undefined) {
      if (this.partitionOfKey.size >= PARTITION_CACHE_KEYS) this.partitionOfKey.clear();
      p = this.partitioner({
        topic: this.topic,
        partitionMetadata: this.partitionMetadata,
        message: { key, value: null },
      });
      this.partitionOfKey.set(key, p);
    }
    return p;
  }

  private async sendPartition(
    send: PartitionSend,
    partition: number,
    records: StoredRecord[],
    refused: Refusal[],
  ): Promise<void> {
    try {
      await send(partition, records);
    } catch (err) {
      const reason = REFUSALS[this.errorType(err) ?? ''];
      if (!reason) throw uplinkError('send', err);
      if (records.length === 1) {
        refused.push({ record: records[0]!, reason, detail: (err as Error).message });
        return;
      }
      const half = Math.ceil(records.length / 2);
      await this.sendPartition(send, partition, records.slice(0, half), refused);
      await this.sendPartition(send, partition, records.slice(half), refused);
    }
  }
}
