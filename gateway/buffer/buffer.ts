/**
 * What goes into the durable buffer and what comes out of it: the types the rest of the gateway
 * uses to talk to it (ingest appends entries, the forwarder leases records and acknowledges
 * them, the status reads stats). The buffer itself is sqlite-buffer.ts.
 */

export interface BufferOptions {
  maxBytes: number;
  whenFull: 'drop-oldest' | 'reject-new';
  synchronous: 'FULL' | 'NORMAL' | 'OFF';
  quarantineMaxRows: number;
  /** Free space always left on the data dir's file system; the cap shrinks to respect it. */
  reserveBytes?: number;
}

/** A damaged buffer file was set aside and salvaged. */
export interface SalvageReport {
  /** The damaged file, as renamed. */
  file: string;
  /** What SQLite said about it. */
  cause: string;
  salvaged: number;
  /** Readings lost with it; null when the damaged file cannot tell. */
  lost: number | null;
  ms: number;
}

/** What the buffer tells the rest of the gateway (status, log). */
export interface BufferEvents {
  /** Raise (detail) or clear (null) one of: disk_full, buffer_io_error, buffer_near_full. */
  problem?(code: 'disk_full' | 'buffer_io_error' | 'buffer_near_full', detail: string | null): void;
  salvaged?(report: SalvageReport): void;
  /**
   * A salvage, or the upgrade of a file an older version wrote, is running and has handled this
   * many readings so far (called after each batch). It blocks the event loop for as long as it
   * takes: this is where to keep a watchdog fed.
   */
  progress?(task: 'salvage' | 'upgrade', readings: number): void;
  /** A file an older version wrote now holds its readings in row batches (batch-row.ts). */
  upgraded?(report: { readings: number; ms: number }): void;
  /**
   * A new block of seqs was reserved (the seq.hwm mark moved). Kafka learns the mark from the
   * next status; publishing one soon keeps what a lost data dir can cost to about one publish.
   */
  seqReserved?(highWater: number): void;
}

/** A reading as the buffer stores it: the Kafka key, and the record value built once its seq is known. */
export interface BufferEntry {
  key: string;
  ts: number;
  /** The record: JSON carrying `"seq":<seq>` as a field (how the buffer tells a damaged row from a good one). */
  encode(seq: number): string;
}

export interface QuarantineEntry {
  ts: number;
  source: string;
  reason: string;
  detail: string;
  payload?: Uint8Array | string;
  /** Refused readings it stands for (see Rejection.count); counted, not stored. */
  count?: number;
}

/** A source's held messages (see HeldMessage in drivers/driver.ts): to hold, or to forget. */
export interface SessionOp {
  source: string;
  hold?: { id: number; topic: string; payload: Uint8Array };
  release?: number;
}

/** A buffered reading as lease() returns it. */
export interface StoredRecord {
  seq: number;
  key: string;
  /** The record's JSON, as ingest encoded it. */
  value: string;
  ts: number;
  /** What the record weighs as Kafka gets it (key, JSON and framing; see recordBytes()). Stored, it is compressed. */
  bytes: number;
}

export interface BufferStats {
  depth: number;
  bytes: number;
  oldestTs: number | null;
  nextSeq: number;
}

/** What an open buffer tells the status besides the stats `sensorgate buffer stats` prints. */
export interface LiveBufferStats extends BufferStats {
  /** The seq reservation (seq.hwm): every seq handed out so far is below it. */
  seqReserved: number;
}

export interface AppendResult {
  /** Readings stored. */
  stored: number;
  /** Oldest readings deleted to make room (drop-oldest). */
  droppedOldest: number;
  /** New readings refused because the buffer was full (reject-new, or one larger than the cap). */
  refused: BufferEntry[];
}

/** A quarantined input as `sensorgate buffer quarantine` lists it. */
export interface QuarantinedRow {
  id: number;
  ts: number;
  source: string;
  reason: string;
  detail: string;
  payload: Buffer | null;
}
