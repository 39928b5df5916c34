/**
 * The network edge towards Kafka, as an interface of our own: kafkajs is unmaintained, and a
 * maintained client must be able to replace it without touching the forwarder. Every
 * implementation passes gateway/test/uplink-contract.ts against a real broker.
 */
import type { StoredRecord } from '../buffer/buffer.js';

export interface Connected {
  /**
   * Exactly-once uplinks: the highest seq Kafka has committed for this gateway (null: none yet).
   * Everything up to it is in Kafka and must not be sent again. At-least-once uplinks: null.
   */
  committedSeq: number | null;
}

/** A record Kafka will never take (too large for the topic, or invalid): the rest of its batch was delivered. */
export interface Refusal {
  record: StoredRecord;
  /** A drop reason for the metrics: kafka_too_large or kafka_refused. */
  reason: 'kafka_too_large' | 'kafka_refused';
  detail: string;
}

export interface Uplink {
  /** Connect (fencing any older session of this gateway) and create the topics if missing. */
  connect(): Promise<Connected>;
  /**
   * After connect(): the highest seq Kafka may already hold of this gateway, from what Kafka
   * keeps of it (the committed seq, exactly-once; the seq reservation the gateway's last status
   * carried), or null when it knows none. Asked only for a buffer that started afresh (its data
   * dir new or lost), which must number its readings above it.
   */
  seqFloor(): Promise<number | null>;
  /**
   * Resolves once every record is acknowledged by all in-sync replicas (acks=all), or committed,
   * except the records Kafka refuses for themselves, which it returns; they were not delivered and
   * are never worth retrying. Any other failure rejects, and then nothing of the batch counts as
   * delivered (some of it may have been: resending it makes duplicates with the same seq).
   */
  send(records: StoredRecord[]): Promise<{ refused: Refusal[] }>;
  /**
   * A cheap round trip to the cluster (a metadata request) that throws when it does not answer:
   * an idle gateway sends nothing, so without it a dead link would look connected for ever.
   */
  check(): Promise<void>;
  /** Drop the connection (idempotent). A new connect() builds a fresh one. */
  close(): Promise<void>;
}

/** A failure of the uplink itself (Kafka unreachable, a request unanswered or unacknowledged): retry later. */
export class UplinkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UplinkError';
  }
}

/** `err` as an UplinkError naming the stage it failed at (one already is stays as it is). */
export function uplinkError(stage: string, err: unknown): UplinkError {
  return err instanceof UplinkError ? err : new UplinkError(`${stage}: ${(err as Error).message}`, { cause: err });
}
