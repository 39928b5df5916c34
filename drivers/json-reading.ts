/**
 * JSON readings (CONTRACT §4), shared by MQTT payloads and serial `jsonl` lines: a bare number, or
 * a JSON object with `value` and optional `ts`, `unit`, `sensor`, `metric`. Pure functions, no I/O.
 */
import type { RawReading, Rejection } from './driver.js';
import { isName, MAX_UNIT_LENGTH } from './names.js';

export type Decoded = { ok: true; reading: RawReading } | { ok: false; rejection: Rejection };

/** Where sensor and metric come from when the payload does not say (topic, source options). */
export interface DefaultNames {
  sensor?: string;
  metric?: string;
}

const BARE_NUMBER = /^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/;

export function reject(reason: Rejection['reason'], detail: string, payload?: Uint8Array | string): Decoded {
  return { ok: false, rejection: { reason, detail, payload } };
}

/** Epoch ms from a number or an ISO 8601 string; undefined when unusable. */
export function parseTimestamp(ts: unknown): number | undefined {
  if (typeof ts === 'number') return Number.isSafeInteger(ts) && ts >= 0 ? ts : undefined;
  if (typeof ts === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(ts)) {
    const ms = Date.parse(ts);
    return Number.isFinite(ms) ? ms : undefined;
  }
  return undefined;
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
  else return reject('not_a_number', `"value" is not a finite number: ${JSON.stringify(o.value)?.slice(0, 40)}`, raw);

  const sensor = o.sensor ?? names.sensor;
  const metric = o.metric ?? names.metric;
  if (sensor === undefined) return reject('missing_field', 'no sensor in payload or topic', raw);
  if (metric === undefined) return reject('missing_field', 'no metric in payload or topic', raw);
  if (!isName(sensor)) return reject('bad_name', `bad sensor name ${JSON.stringify(sensor).slice(0, 80)}`, raw);
  if (!isName(metric)) return reject('bad_name', `bad metric name ${JSON.stringify(metric).slice(0, 80)}`, raw);

  const reading: RawReading = { sensor, metric, value };
  if (o.unit !== undefined) {
    if (typeof o.unit !== 'string' || o.unit.length > MAX_UNIT_LENGTH) {
      return reject('bad_unit', `"unit" must be a string of at most ${MAX_UNIT_LENGTH} characters`, raw);
    }
    reading.unit = o.unit;
  }
  if (o.ts !== undefined) {
    const ts = parseTimestamp(o.ts);
    if (ts === undefined) return reject('bad_timestamp', `"ts" is neither epoch ms nor ISO 8601: ${JSON.stringify(o.ts)?.slice(0, 40)}`, raw);
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
