/**
 * How a record's value is kept in a buffer row: its JSON with each field name of a readings
 * record (`"gateway":`, `"source":` … `"clockSynced":`) replaced by a single control character.
 * A typical reading's record shrinks from about 210 to 135 bytes. A steady stream's commits are
 * small, and every page a commit touches goes to the WAL whole: fewer pages of rows is less
 * written to flash per reading.
 *
 * The text comes back exactly. JSON has no raw control characters: inside strings
 * JSON.stringify escapes them, and compact JSON has no whitespace between tokens (the characters
 * used here are not JSON's whitespace either). So any such character in a stored value was put
 * there by packValue(), and a value written by an older version, plain JSON, reads back as it is.
 */

/** The field names of a readings record, in the order the record writes them (ingest/record.ts). */
const FIELDS = ['gateway', 'source', 'sensor', 'metric', 'value', 'unit', 'ts', 'seq', 'bootId', 'clockSynced'].map(
  (name) => `"${name}":`,
);
/** The character that stands for FIELDS[0]; the others follow it (DLE, DC1, …: never JSON whitespace). */
const FIRST_CODE = 0x10;
const CODES = FIELDS.map((_, i) => String.fromCharCode(FIRST_CODE + i));

/** The stored form of a record's JSON. Names found in the record's field order are replaced; any other text stays. */
export function packValue(json: string): string {
  let packed = '';
  let from = 0;
  for (let i = 0; i < FIELDS.length; i++) {
    const at = json.indexOf(FIELDS[i]!, from);
    if (at < 0) continue;
    packed += json.slice(from, at) + CODES[i];
    from = at + FIELDS[i]!.length;
  }
  return from === 0 ? json : packed + json.slice(from);
}

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

/** A readings row as read from the file, its value turned back into JSON (a damaged row's value may be anything). */
export function unpackRow<T extends { value: unknown }>(row: T): T {
  if (typeof row.value === 'string') row.value = unpackValue(row.value);
  return row;
}
