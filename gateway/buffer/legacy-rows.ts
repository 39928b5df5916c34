/**
 * Readings as versions before row batches (batch-row.ts) kept them: a row per reading in the table
 * `readings` (seq, key, value, ts, bytes). The value is the record's JSON, either whole (the first
 * versions) or with each field name of a readings record (`"gateway":`, `"source":` …
 * `"clockSynced":`) replaced by one control character. Such a file is moved into row batches when
 * the buffer opens it (SqliteBuffer), and salvaged the same way if it is damaged (salvage.ts).
 *
 * The text comes back exactly. JSON has no raw control characters: inside strings JSON.stringify
 * escapes them, and compact JSON has no whitespace between tokens. So any such character in a
 * stored value stands for a field name, and plain JSON reads back as it is.
 */

import { carriesSeq } from './batch-row.js';

/** A row of the legacy table, its value turned back into the record's JSON. */
export interface LegacyRow {
  seq: number;
  key: string;
  value: string;
  ts: number;
  bytes: number;
}

/** The table older versions kept readings in. */
export const LEGACY_TABLE = 'readings';

/** Its rows from a seq on, in seq order (arguments: seq, limit). */
export const LEGACY_ROWS = `SELECT seq, key, value, ts, bytes FROM ${LEGACY_TABLE} WHERE seq >= ? ORDER BY seq LIMIT ?`;

/** The field names of a readings record, in the order the record writes them (ingest/record.ts). */
const FIELDS = ['gateway', 'source', 'sensor', 'metric', 'value', 'unit', 'ts', 'seq', 'bootId', 'clockSynced'].map(
  (name) => `"${name}":`,
);
/** The character that stood for FIELDS[0]; the others follow it (DLE, DC1, …). */
const FIRST_CODE = 0x10;

/** The record's JSON from its stored form (plain JSON comes back unchanged). */
export function unpackValue(stored: string): string {
  let json = '';
  let from = 0;
  for (let i = 0; i < stored.length; i++) {
    const field = FIELDS[stored.charCodeAt(i) - FIRST_CODE];
    if (field === undefined) continue;
    json += stored.slice(from, i) + field;
    from = i + 1;
  }
  return from === 0 ? stored : json + stored.slice(from);
}

/** A legacy row as read from the file, its value turned back into JSON (a damaged row's value may be anything). */
export function unpackRow<T extends { value: unknown }>(row: T): T {
  if (typeof row.value === 'string') row.value = unpackValue(row.value);
  return row;
}

/** A legacy row as the buffer wrote it: its record carries its seq (a damaged page can still parse). */
export function isIntact(r: LegacyRow): boolean {
  return (
    Number.isSafeInteger(r.seq) &&
    typeof r.key === 'string' &&
    typeof r.value === 'string' &&
    Number.isFinite(r.ts) &&
    Number.isSafeInteger(r.bytes) &&
    carriesSeq(r.value, r.seq)
  );
}
