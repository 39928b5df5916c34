/**
 * Test helper: a working Kafka stand-in behind the real Uplink interface, for testing the forwarder
 * without a broker. It keeps what it accepted (`log`, one partition in arrival order, as a consumer
 * would read it) and can be told to misbehave the way a real link does:
 *
 * - `down`: connect, check and send fail as unavailable (the broker unreachable);
 * - `maxRecordBytes`: larger records are refused alone, the rest of the batch is delivered
 *   (Kafka's MESSAGE_TOO_LARGE, as KafkaUplink reports it);
 * - `failNext(...)`: what happens to the next sends: `reject` (nothing delivered), `lost-ack`
 *   (delivered, or committed, but the answer never comes back), `hang` (no answer at all until
 *   `release()`).
 *
 * Transactional (exactly-once), a send is all or nothing and connect() reports the last committed
 * seq, as TransactionalKafkaUplink does; otherwise a lost acknowledgement leaves the first half of
 * the batch delivered, as a request that timed out on some partitions does.
 *
 * seqFloor() answers as the Kafka uplinks do: the higher of the committed seq (transactional) and
 * `statusFloor`, the highest seq the gateway's last status in Kafka says it had handed out.
 */
import type { StoredRecord } from '../../buffer/buffer.js';
import { type Connected, type Refusal, type Uplink, UplinkError } from '../../uplink/uplink.js';

export type SendFault = 'reject' | 'lost-ack' | 'hang';

export class MemoryUplink implements Uplink {
  /** What Kafka holds, in the order it got it (duplicates included). */
  readonly log: StoredRecord[] = [];
  /** Records in the log whose send reported a failure: each may come again (at-least-once). */
  unacknowledged = 0;
  down = false;
  maxRecordBytes = Number.POSITIVE_INFINITY;
  /** What the gateway's last status in Kafka says of its seqs (null: no status). */
  statusFloor: number | null = null;
  private connected = false;
  private committedSeq: number | null = null;
  private readonly faults: SendFault[] = [];
  private hung: { records: StoredRecord[]; settle: (delivered: boolean) => void } | undefined;

  constructor(private readonly transactional = false) {}

  /** Script the next sends, one fault each. */
  failNext(...faults: SendFault[]): void {
    this.faults.push(...faults);
  }

  /** A send hangs now. */
  get hanging(): boolean {
    return this.hung !== undefined;
  }

  /** Answer the hung send at last: delivered (late), or failed. */
  release(delivered: boolean): void {
    const h = this.hung;
    if (!h) throw new Error('no send hangs');
    this.hung = undefined;
    h.settle(delivered);
  }

  async connect(): Promise<Connected> {
    this.connected = false;
    if (this.down) throw new UplinkError('connect: broker unreachable');
    this.connected = true;
    return { committedSeq: this.transactional ? this.committedSeq : null };
  }

  async seqFloor(): Promise<number | null> {
    if (!this.connected) throw new UplinkError('not connected');
    const committed = this.transactional ? this.committedSeq : null;
    if (committed === null || this.statusFloor === null) return committed ?? this.statusFloor;
    return Math.max(committed, this.statusFloor);
  }

  async check(): Promise<void> {
    if (this.down || !this.connected) throw new UplinkError('connection check: no answer');
  }

  async close(): Promise<void> {
    this.connected = false;
  }

  async send(records: StoredRecord[]): Promise<{ refused: Refusal[] }> {
    if (!this.connected) throw new UplinkError('not connected');
    if (this.down) throw new UplinkError('send: broker unreachable');
    const fault = this.faults.shift();
    if (fault === 'reject') throw new UplinkError('send: NOT_ENOUGH_REPLICAS');
    if (fault === 'hang') {
      const delivered = await new Promise<boolean>((settle) => (this.hung = { records, settle }));
      if (!delivered) throw new UplinkError('send: request timed out');
      return { refused: this.deliver(records) };
    }
    if (fault === 'lost-ack') {
      // Transactional: committed whole. Otherwise some partitions acknowledged, others timed out.
      const reached = this.transactional ? records : records.slice(0, Math.ceil(records.length / 2));
      const before = this.log.length;
      this.deliver(reached);
      this.unacknowledged += this.log.length - before;
      throw new UplinkError('send: request timed out');
    }
    return { refused: this.deliver(records) };
  }

  /** Append what fits, refuse what is too large; a transaction commits its last seq with it. */
  private deliver(records: StoredRecord[]): Refusal[] {
    const refused: Refusal[] = [];
    for (const record of records) {
      if (Buffer.byteLength(record.value) > this.maxRecordBytes)
        refused.push({ record, reason: 'kafka_too_large', detail: 'MESSAGE_TOO_LARGE' });
      else this.log.push(record);
    }
    if (this.transactional && records.length) this.committedSeq = records[records.length - 1]!.seq;
    return refused;
  }
}
