/**
 * JSON readings (docs/reference/wire-formats.md), shared by MQTT payloads and serial `jsonl` lines: a bare number, or
 * a JSON object with `value` and optional `ts`, `unit`, `sensor`, `metric`. Pure functions, no I/O.
 *
 * Total: any text yields a reading or a rejection, never a throw, in time linear in its length.
 * Nothing here recurses into a parsed value (JSON.stringify of a value nested thousands deep
 * overflows the stack), nesting is bounded before parsing, and the number patterns cannot
 * backtrack.
 */
import type { RawReading, Rejection } from './driver.js';
import { isName, MAX_UNIT_LENGTH } from './names.js';

export type Decoded = { ok: true; reading: RawReading } | { ok: false; rejection: Rejection };

/** Where sensor and metric come from when the payload does not say (topic, source options). */
export interface DefaultNames {
  sensor?: string;
  metric?: string;
}

// `\d+(\.\d*)?` rather than `\d+\.?\d*`: the latter backtracks quadratically on a long run of
// digits that does not match in the end.
const BARE_NUMBER = /^\s*-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;

/** A reading is a flat object; anything nested deeper than this is refused before it is parsed. */
export const MAX_JSON_DEPTH = 16;

export function reject(reason: Rejection['reason'], detail: string, payload?: Uint8Array | string): Decoded {
  return { ok: false, rejection: { reason, detail, payload } };
}

/** Epoch ms from a number or an ISO 8601 string; undefined when unusable (also before 1970, either way). */
export function parseTimestamp(ts: unknown): number | undefined {
  const ms = typeof ts === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(ts) ? Date.parse(ts) : ts;
  return typeof ms === 'number' && Number.isSafeInteger(ms) && ms >= 0 ? ms : undefined;
}

/** A short description of a parsed value for a rejection's detail: never recurses into it. */
function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'an object';
  return String(v).slice(0, 40);
}

/** How deeply `text` nests arrays and objects (outside strings), counting no further than `limit + 1`. */
export function nestingDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** Decode one JSON value (already parsed) into a reading. */
export function decodeObject(obj: unknown, names: DefaultNames, raw: Uint8Array | string): Decoded {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    return reject('not_a_number', 'payload is neither a number nor a JSON object', raw);
  }
  const o = obj as Record<string, unknown>;
  let value: number;
  if (typeof o.value === 'boolean') value = o.value ? 1 : 0;
  else if (typeof o.value === 'number' && Number.isFinite(o.value)) value = o.value;
  else if (o.value === undefined) return reject('missing_field', 'missing "value"', raw);
  else return reject('not_a_number', `"value" is not a finite number: ${show(o.value)}`, raw);

  const sensor = o.sensor ?? names.sensor;
  const metric = o.metric ?? names.metric;
  if (sensor === undefined) return reject('missing_field', 'no sensor in payload or topic', raw);
  if (metric === undefined) return reject('missing_field', 'no metric in payload or topic', raw);
  if (!isName(sensor)) return reject('bad_name', `bad sensor name ${show(sensor)}`, raw);
  if (!isName(metric)) return reject('bad_name', `bad metric name ${show(metric)}`, raw);

  const reading: RawReading = { sensor, metric, value };
  if (o.unit !== undefined) {
    if (typeof o.unit !== 'string' || o.unit.length > MAX_UNIT_LENGTH) {
      return reject('bad_unit', `"unit" must be a string of at most ${MAX_UNIT_LENGTH} characters`, raw);
    }
    reading.unit = o.unit;
  }
  if (o.ts !== undefined) {
    const ts = parseTimestamp(o.ts);
    if (ts === undefined) return reject('bad_timestamp', `"ts" is neither epoch ms nor ISO 8601: ${show(o.ts)}`, raw);
    reading.ts = ts;
  }
  return { ok: true, reading };
}

/** Decode the text of one payload or line: a bare number or a JSON object. `raw` is quarantined on rejection. */
export function decodeJsonText(text: string, names: DefaultNames, raw: Uint8Array | string): Decoded {
  if (BARE_NUMBER.test(text)) {
    const value = Number(text);
    if (!Number.isFinite(value)) return reject('not_a_number', 'number out of range', raw);
    return decodeObject({ value }, names, raw);
  }
  if (nestingDepth(text) > MAX_JSON_DEPTH)
    return reject('too_deep', `nested deeper than ${MAX_JSON_DEPTH} levels`, raw);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    // Not JSON-looking at all (NaN, hot, 0x1F) is a non-number; a broken object is broken JSON.
    if (!text.trimStart().startsWith('{')) return reject('not_a_number', `not a number: ${text.slice(0, 40)}`, raw);
    return reject('invalid_json', (err as Error).message.slice(0, 120), raw);
  }
  return decodeObject(parsed, names, raw);
}
