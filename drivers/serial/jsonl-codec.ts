/**
 * Serial `format: jsonl` (the MQTT JSON payload of docs/reference/wire-formats.md, on a serial line): one JSON reading per line, decoded by the
 * same rules as an MQTT payload. Pure functions; the encoder is what simulated devices send.
 */
import type { RawReading } from '../driver.js';
import { type DefaultNames, decodeJsonText } from '../json-reading.js';
import type { FrameResult } from './line-codec.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decode one line (without line ending). `names` supply sensor/metric the object leaves out. */
export function decodeJsonLine(line: Uint8Array, names: DefaultNames): FrameResult {
  if (line.length === 0) return { ok: true, readings: [] };
  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    return { ok: false, rejection: { reason: 'garbage', detail: 'not UTF-8', payload: line } };
  }
  // JSON text never holds raw control characters (tab aside): they are line noise.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  const control = /[\u0000-\u0008\u000a-\u001f\u007f]/.exec(text);
  if (control) {
    return {
      ok: false,
      rejection: {
        reason: 'garbage',
        detail: `control character 0x${control[0].charCodeAt(0).toString(16).padStart(2, '0')} at offset ${control.index}`,
        payload: line,
      },
    };
  }
  const decoded = decodeJsonText(text, names, line);
  return decoded.ok ? { ok: true, readings: [decoded.reading] } : decoded;
}

/** One line, without the line ending. */
export function encodeJsonLine(reading: RawReading): string {
  return JSON.stringify(reading);
}
