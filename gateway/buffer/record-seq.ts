/**
 * What the buffer knows of a record's value: JSON whose top-level `seq` field is the row's seq
 * (see BufferEntry). Renumbering a reading (SqliteBuffer.anchor()) gives it a new one here.
 */

/** `value` with its `seq` field set to `seq`; fields keep their order, nothing else changes. */
export function withSeq(value: string, seq: number): string {
  let record: unknown;
  try {
    record = JSON.parse(value);
  } catch {
    record = undefined;
  }
  if (typeof record !== 'object' || record === null || typeof (record as { seq?: unknown }).seq !== 'number')
    // Damage, as lease() finds it: the buffer sets the file aside and salvages it.
    throw Object.assign(new Error('a buffered record does not hold its seq'), { code: 'SQLITE_CORRUPT' });
  return JSON.stringify({ ...record, seq });
}
