/**
 * How readings are kept in the buffer file: a run of consecutive seqs per row, their keys, times and
 * records compressed together, as Kafka keeps a record batch.
 *
 * Why not a row per reading: at a steady few hundred readings a second a commit holds a few dozen
 * readings, and SQLite writes every page a commit touches to the WAL whole. Rows of single readings
 * filled 10 pages per commit of 50, and deleting them rebalanced the b-tree's leaves row by row: 467
 * bytes went to flash per reading of about 210. One compressed row per commit holds those 50
 * readings in about 1 KiB (a reading's record repeats most of its neighbour's text), and its delete
 * is one cell: 187 bytes per reading in the same run, and a cap holds about ten times as many readings.
 *
 * A row holds its readings in seq order without gaps: reading i of a row has seq `first + i`.
 * deflate's Adler-32 checksum finds a damaged body; each record must also still carry its seq.
 */
import { deflateSync, inflateSync } from 'node:zlib';
import type { StoredRecord } from './buffer.js';

/**
 * Readings per row at most: a burst's commit is split. Enough for compression to find the repeated
 * text of neighbours; few enough that a damaged page costs at most that many readings, and that
 * reading one reading out of a row decompresses little.
 */
export const ROW_READINGS = 128;

/** A reading as a row keeps it; its seq is the row's first seq plus its place. */
export interface RowReading {
  key: string;
  ts: number;
  /** The record's JSON (it carries the seq). */
  value: string;
}

/** A row as the buffer file holds it (see schema.ts). */
export interface Row {
  first: number;
  last: number;
  /** The first reading's ts: how old the row's readings are. */
  ts: number;
  /** What the row counts against the cap: its compressed body and the row's overhead. */
  bytes: number;
  body: Buffer;
}

/** Fixed overhead counted per row against the cap, so many tiny rows cannot overrun it. */
export const ROW_OVERHEAD = 24;
/** A record's framing in a Kafka batch, at least (offset and timestamp deltas, lengths, attributes). */
const RECORD_OVERHEAD = 24;

/** What a reading weighs as Kafka gets it, which the forwarder's batch limits count: its key, its record's JSON, framing. */
export function recordBytes(key: string, value: string): number {
  return Buffer.byteLength(key) + Buffer.byteLength(value) + RECORD_OVERHEAD;
}

// JSON has no raw control characters, and keys are names (letters, digits, `._-/`).
const FIELD = '\x1f';
const READING = '\x1e';

/** The row holding `readings`, whose seqs are first, first + 1, … */
export function encodeRow(first: number, readings: RowReading[]): Row {
  let text = '';
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    text += (i ? READING : '') + r.key + FIELD + r.ts + FIELD + r.value;
  }
  // Level 1: at 50 readings a row it compresses to 20 bytes a reading in 0.6 µs; level 6 saves 4 bytes for 1 µs.
  const body = deflateSync(text, { level: 1 });
  return { first, last: first + readings.length - 1, ts: readings[0]!.ts, bytes: body.length + ROW_OVERHEAD, body };
}

/**
 * The readings of a row. A body that does not decompress, holds another number of readings than
 * first..last, or a record without its seq is damage: an error coded SQLITE_CORRUPT, as SQLite
 * reports a damaged page (the buffer then sets the file aside and salvages it).
 */
export function decodeRow(first: number, last: number, body: Buffer): StoredRecord[] {
  let text: string;
  try {
    text = inflateSync(body).toString();
  } catch (err) {
    throw damaged(first, `its body does not decompress (${(err as Error).message})`);
  }
  const parts = text.split(READING);
  if (parts.length !== last - first + 1)
    throw damaged(first, `it holds ${parts.length} readings, not ${last - first + 1}`);
  const out: StoredRecord[] = new Array(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const a = p.indexOf(FIELD);
    const b = p.indexOf(FIELD, a + 1);
    const seq = first + i;
    const key = p.slice(0, a);
    const value = p.slice(b + 1);
    const ts = Number(p.slice(a + 1, b));
    if (a < 0 || b < 0 || !Number.isFinite(ts) || !carriesSeq(value, seq))
      throw damaged(first, `reading ${seq} does not hold its record`);
    out[i] = { seq, key, value, ts, bytes: recordBytes(key, value) };
  }
  return out;
}

/** Whether a record's JSON carries `seq` as its seq field (a damaged page can still parse). */
export function carriesSeq(value: string, seq: number): boolean {
  const field = `"seq":${seq}`;
  const at = value.indexOf(field);
  const after = value[at + field.length];
  return at >= 0 && (after === ',' || after === '}');
}

function damaged(first: number, why: string): Error {
  return Object.assign(new Error(`buffer row ${first}: ${why}`), { code: 'SQLITE_CORRUPT' });
}
