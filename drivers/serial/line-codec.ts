/**
 * The serial line format (docs/reference/wire-formats.md), decoder and encoder, as pure functions:
 *
 *     <sensor> <metric>=<number>[,<metric>=<number>…][ <tsMs>][*<HH>]
 *
 * `HH` is the XOR of every byte before the `*` in hex, as in NMEA 0183. The encoder is what the
 * simulated devices in firmware-sim send, so there is one definition of the format.
 */
import type { RawReading, Rejection } from '../driver.js';
import { isName } from '../names.js';

/** What one line yields: readings, or the reason it was refused. An empty line yields nothing. */
export type FrameResult = { ok: true; readings: RawReading[] } | { ok: false; rejection: Rejection };

export interface LineFrame {
  sensor: string;
  values: ReadonlyArray<readonly [metric: string, value: number]>;
  /** Event time, epoch ms. */
  ts?: number;
}

// `\d+(\.\d*)?` rather than `\d+\.?\d*` (the same numbers): the latter can split a run of digits
// between its two `\d` in as many ways as the run is long, and tries them all when the value does
// not match in the end, so a 4 KiB frame of digits cost quadratic time.
const NUMBER = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
const TIMESTAMP = /^\d{1,16}$/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;

/** XOR of the bytes of `text` (ASCII), as two upper-case hex digits. */
export function xorChecksum(text: string): string {
  let x = 0;
  for (let i = 0; i < text.length; i++) x ^= text.charCodeAt(i);
  return x.toString(16).toUpperCase().padStart(2, '0');
}

/** One frame, without the line ending. Throws on input that would not decode. */
export function encodeLine(frame: LineFrame, opts: { checksum?: boolean } = {}): string {
  if (!isName(frame.sensor)) throw new RangeError(`bad sensor name ${JSON.stringify(frame.sensor)}`);
  if (frame.values.length === 0) throw new RangeError('a frame needs at least one metric=value');
  const pairs = frame.values.map(([metric, value]) => {
    if (!isName(metric)) throw new RangeError(`bad metric name ${JSON.stringify(metric)}`);
    if (!Number.isFinite(value)) throw new RangeError(`${metric}: ${value} is not a finite number`);
    return `${metric}=${value}`;
  });
  let body = `${frame.sensor} ${pairs.join(',')}`;
  if (frame.ts !== undefined) {
    if (!Number.isSafeInteger(frame.ts) || frame.ts < 0) throw new RangeError(`bad timestamp ${frame.ts}`);
    body += ` ${frame.ts}`;
  }
  return opts.checksum ? `${body}*${xorChecksum(body)}` : body;
}

function refuse(reason: Rejection['reason'], detail: string, payload: Uint8Array): FrameResult {
  return { ok: false, rejection: { reason, detail, payload } };
}

/** Decode one line (without `\n`; a trailing `\r` already removed). */
export function decodeLine(line: Uint8Array, opts: { requireChecksum: boolean }): FrameResult {
  if (line.length === 0) return { ok: true, readings: [] };
  // Only printable ASCII belongs in a frame; anything else is line noise or a wrong baud rate.
  for (let i = 0; i < line.length; i++) {
    const b = line[i]!;
    if (b < 0x20 || b > 0x7e)
      return refuse('garbage', `byte 0x${b.toString(16).padStart(2, '0')} at offset ${i}`, line);
  }
  const text = Buffer.from(line.buffer, line.byteOffset, line.length).toString('latin1');

  let body = text;
  const star = text.lastIndexOf('*');
  if (star !== -1) {
    const given = text.slice(star + 1);
    if (!HEX2.test(given)) return refuse('garbage', `checksum must be *HH, got *${given.slice(0, 8)}`, line);
    body = text.slice(0, star);
    const expected = xorChecksum(body);
    if (given.toUpperCase() !== expected)
      return refuse('bad_checksum', `checksum ${given} does not match ${expected}`, line);
  } else if (opts.requireChecksum) {
    return refuse('missing_checksum', 'frame has no *HH checksum and requireChecksum is set', line);
  }

  const tokens = body.split(' ');
  if (tokens.length < 2 || tokens.length > 3 || tokens.some((t) => t === '')) {
    return refuse('garbage', 'expected "<sensor> <metric>=<number>[,…][ <tsMs>]"', line);
  }
  const [sensor, pairsText, tsText] = tokens as [string, string, string | undefined];
  // Structure first, so that noise is called garbage rather than whatever it happens to resemble.
  const pairs = pairsText.split(',').map((pair) => pair.split('='));
  const broken = pairs.find((kv) => kv.length !== 2);
  if (broken)
    return refuse('garbage', `expected metric=number, got ${JSON.stringify(broken.join('=').slice(0, 40))}`, line);
  if (!isName(sensor)) return refuse('bad_name', `bad sensor name ${JSON.stringify(sensor).slice(0, 80)}`, line);

  let ts: number | undefined;
  if (tsText !== undefined) {
    ts = TIMESTAMP.test(tsText) ? Number(tsText) : NaN;
    if (!Number.isSafeInteger(ts))
      return refuse('bad_timestamp', `timestamp must be integer epoch ms, got ${tsText.slice(0, 24)}`, line);
  }

  const readings: RawReading[] = [];
  for (const [metric, valueText] of pairs as Array<[string, string]>) {
    if (!isName(metric)) return refuse('bad_name', `bad metric name ${JSON.stringify(metric).slice(0, 80)}`, line);
    const value = NUMBER.test(valueText) ? Number(valueText) : NaN;
    if (!Number.isFinite(value))
      return refuse('not_a_number', `${metric}=${valueText.slice(0, 40)} is not a finite decimal number`, line);
    const reading: RawReading = { sensor, metric, value };
    if (ts !== undefined) reading.ts = ts;
    readings.push(reading);
  }
  return { ok: true, readings };
}
