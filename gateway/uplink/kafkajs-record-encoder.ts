/**
 * kafkajs 2.2.4 (its last release) encodes each record of a produce request through a fresh
 * growable Encoder (a zero-filled 512-byte Buffer), one more per header, a Buffer per varint and a
 * BigInt-backed Long per timestamp delta: about 3 KB of garbage and a fifth of the uplink's CPU
 * per reading, in a client that sends tens of thousands of readings a second.
 *
 * Replaced here by an encoder that measures the record first and writes it into one Buffer of
 * exactly its size. The bytes are the same (gateway/test/kafkajs-record-encoder.test.ts compares
 * them with kafkajs's own over random records); only the work differs. Installed before kafkajs's
 * produce request loads the original, which every produce request version shares.
 *
 * Record (Kafka's record format v2):
 *   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
 *   key varint-bytes | value varint-bytes | headers: count varint, then key varint-string,
 *   value varint-bytes each. varint/varlong are zigzag LEB128; a null key, value or header value
 *   is length -1.
 */
import { swapKafkajsModule } from './kafkajs-module-swap.js';

type Bytes = Buffer | string | null | undefined;

export interface RecordInput {
  offsetDelta?: number;
  timestampDelta?: number;
  key?: Bytes;
  value?: Bytes;
  headers?: Record<string, Bytes | Bytes[]>;
}

/** kafkajs's Encoder as far as its record-batch writer reads one: `buf` to recognise it, `buffer` to copy. */
export interface EncodedRecord {
  buf: Buffer;
  buffer: Buffer;
}

const RECORD_MODULE = 'kafkajs/src/protocol/recordBatch/record/v0/index.js';
const PRODUCE_MODULE = 'kafkajs/src/protocol/requests/produce/v3/request.js';

/** Zigzag maps signed to unsigned so that small negatives stay short: 0,-1,1,-2 -> 0,1,2,3. */
function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

/** Bytes of an unsigned LEB128 number; plain arithmetic, so exact up to 2^53 (a timestamp delta fits). */
function sizeOfUnsigned(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeUnsigned(buf: Buffer, at: number, n: number): number {
  while (n >= 128) {
    buf[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[at++] = n;
  return at;
}

/** A field's bytes: Buffers as they are, anything else as the UTF-8 of its string form (as kafkajs does). */
function bytesOf(v: Bytes): Buffer | string | null {
  if (v == null) return null;
  return Buffer.isBuffer(v) ? v : String(v);
}

function lengthOf(v: Buffer | string | null): number {
  if (v === null) return -1;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}

function sizeOfField(length: number): number {
  return sizeOfUnsigned(zigzag(length)) + Math.max(length, 0);
}

function writeField(buf: Buffer, at: number, v: Buffer | string | null, length: number): number {
  at = writeUnsigned(buf, at, zigzag(length));
  if (v === null) return at;
  if (typeof v === 'string') buf.write(v, at, length, 'utf8');
  else v.copy(buf, at);
  return at + length;
}

export function encodeRecord({
  offsetDelta = 0,
  timestampDelta = 0,
  key,
  value,
  headers = {},
}: RecordInput): EncodedRecord {
  // An array header value is that header repeated, once per element, as kafkajs sends it.
  const fields: (Buffer | string | null)[] = [bytesOf(key), bytesOf(value)];
  let headerCount = 0;
  for (const name of Object.keys(headers)) {
    const v = headers[name];
    for (const one of Array.isArray(v) ? v : [v]) {
      fields.push(name, bytesOf(one));
      headerCount++;
    }
  }
  const lengths = fields.map(lengthOf);

  const timestamp = zigzag(Math.trunc(timestampDelta) || 0);
  const offset = zigzag(offsetDelta);
  let body = 1 + sizeOfUnsigned(timestamp) + sizeOfUnsigned(offset) + sizeOfUnsigned(zigzag(headerCount));
  for (const length of lengths) body += sizeOfField(length);

  const length = zigzag(body);
  const buf = Buffer.allocUnsafe(sizeOfUnsigned(length) + body);
  let at = writeUnsigned(buf, 0, length);
  buf[at++] = 0; // attributes: none are used in a record
  at = writeUnsigned(buf, at, timestamp);
  at = writeUnsigned(buf, at, offset);
  at = writeField(buf, at, fields[0], lengths[0]);
  at = writeField(buf, at, fields[1], lengths[1]);
  at = writeUnsigned(buf, at, zigzag(headerCount));
  for (let i = 2; i < fields.length; i++) at = writeField(buf, at, fields[i], lengths[i]);
  return { buf, buffer: buf };
}

// The produce request (every version shares v3's) takes the record encoder when it loads.
swapKafkajsModule(RECORD_MODULE, encodeRecord, PRODUCE_MODULE);
