/**
 * The network edge towards Kafka, as an interface of our own: kafkajs is unmaintained, and a
 * maintained client must be able to replace it without touching the forwarder. Every
 * implementation passes gateway/test/uplink-contract.ts against a real broker.
 */
import type { StoredRecord } from './buffer.js';

export interface Connected {
  /**
   * Exactly-once uplinks: the highest seq Kafka has committed for this gateway (null: none yet).
   * Everything up to it is in Kafka and must not be sent again. At-least-once uplinks: null.
   */
  committedSeq: number | null;
}

export interface Uplink {
  /** Connect (fencing any older session of this gateway) and create the topics if missing. */
  connect(): Promise<Connected>;
  /** Resolves once every record is acknowledged by all in-sync replicas (acks=all), or committed. */
  send(records: StoredRecord[]): Promise<void>;
  /**
   * A cheap round trip to the cluster (a metadata request) that throws when it does not answer:
   * an idle gateway sends nothing, so without it a dead link would look connected for ever.
   */
  check(): Promise<void>;
  /** Drop the connection (idempotent). A new connect() builds a fresh one. */
  close(): Promise<void>;
}

export type UplinkErrorKind = 'too_large' | 'unavailable';

export class UplinkError extends Error {
  constructor(message: string, readonly kind: UplinkErrorKind, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UplinkError';
  }
}
