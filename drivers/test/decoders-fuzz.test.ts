/**
 * Every decoder is total: property-based tests (fast-check) feed random and adversarial input
 * (deep nesting, huge numbers, invalid UTF-8, NaN/Infinity spellings, 1 MB lines) and check that
 * nothing throws, that every refusal carries a known reason, and that valid frames around bad
 * ones still decode.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { RawReading, RejectReason } from '../driver.js';
import { guarded } from '../guard.js';
import { decodeJsonText, MAX_JSON_DEPTH } from '../json-reading.js';
import { decodeRegisters, type RegisterType, registerCount } from '../modbus/registers.js';
import { decodePayload } from '../mqtt/payload.js';
import { decodeJsonLine, encodeJsonLine } from '../serial/jsonl-codec.js';
import { decodeLine, encodeLine, type FrameResult } from '../serial/line-codec.js';
import { LineFramer } from '../serial/line-framer.js';
import { hostileBytes, poison } from './support/hostile.js';

const REASONS: ReadonlySet<RejectReason> = new Set<RejectReason>([
  'invalid_json',
  'not_a_number',
  'missing_field',
  'bad_name',
  'bad_timestamp',
  'bad_unit',
  'too_large',
  'too_deep',
  'bad_checksum',
  'missing_checksum',
  'garbage',
]);
const names = { sensor: 'topic-sensor', metric: 'topic-metric' };
const RUNS = { numRuns: 300 };

const hostile = hostileBytes();

function assertTotal(result: { ok: true } | { ok: false; rejection: { reason: RejectReason; detail: string } }): void {
  if (!result.ok) {
    assert.ok(REASONS.has(result.rejection.reason), `unknown reason ${result.rejection.reason}`);
    assert.equal(typeof result.rejection.detail, 'string');
  }
}

test('the poison payload is refused as too deep, in every decoder that reads JSON', () => {
  const p = poison(5000);
  for (const r of [
    decodeJsonText(p, names, p),
    decodePayload(Buffer.from(p), names, 65536),
    decodeJsonLine(Buffer.from(p), names),
  ]) {
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.rejection.reason, 'too_deep');
  }
  // A flat reading passes the depth check, nested values within the bound are refused by shape.
  assert.equal(decodeJsonText(poison(MAX_JSON_DEPTH - 1), names, '').ok, false);
  assert.deepEqual(decodeJsonText('{"value":2}', names, ''), { ok: true, reading: { ...names, value: 2 } });
});

test('MQTT payloads: any bytes give a reading or a known rejection, never a throw', () => {
  fc.assert(
    fc.property(hostile, (bytes) => assertTotal(decodePayload(bytes, names, 65536))),
    RUNS,
  );
  // 1 MB payloads over the limit and under it.
  const mb = new Uint8Array(Buffer.from(`{"value":${'1'.repeat(1 << 20)}}`));
  assertTotal(decodePayload(mb, names, 65536));
  assertTotal(decodePayload(mb, names, 2 << 20));
});

test('JSONL lines: any bytes, valid UTF-8 or not, give a reading or a known rejection', () => {
  fc.assert(
    fc.property(hostile, (bytes) => assertTotal(decodeJsonLine(bytes, names))),
    RUNS,
  );
  assertTotal(decodeJsonLine(Buffer.alloc(1 << 20, 0x5b), names));
});

test('serial line frames: any bytes give readings or a known rejection', () => {
  const lineish = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc
      .tuple(
        fc.stringMatching(/^[A-Za-z0-9._-]{1,70}$/),
        fc.array(
          fc.tuple(
            fc.string({ maxLength: 70 }),
            fc.oneof(fc.double().map(String), fc.constantFrom('NaN', 'Infinity', '1e999', '9'.repeat(400))),
          ),
          { maxLength: 5 },
        ),
        fc.option(fc.string({ maxLength: 20 })),
        fc.option(fc.string({ maxLength: 4 })),
      )
      .map(
        ([s, pairs, ts, cs]) =>
          new Uint8Array(
            Buffer.from(
              `${s} ${pairs.map(([m, v]) => `${m}=${v}`).join(',')}${ts === null ? '' : ` ${ts}`}${cs === null ? '' : `*${cs}`}`,
            ),
          ),
      ),
  );
  fc.assert(
    fc.property(lineish, fc.boolean(), (bytes, requireChecksum) => assertTotal(decodeLine(bytes, { requireChecksum }))),
    RUNS,
  );
  assertTotal(decodeLine(Buffer.alloc(1 << 20, 0x39), { requireChecksum: false }));
});

test('Modbus registers: any register words of the right count decode to a number', () => {
  const types: RegisterType[] = ['int16', 'uint16', 'int32', 'uint32', 'float32'];
  fc.assert(
    fc.property(
      fc.constantFrom(...types),
      fc.constantFrom('big' as const, 'little' as const),
      fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 2, maxLength: 2 }),
      (type, order, words) => {
        assert.equal(typeof decodeRegisters(words.slice(0, registerCount(type)), type, order), 'number');
      },
    ),
    RUNS,
  );
});

/** A stream of valid frames with hostile lines between them, cut into random chunks. */
function framedStream(
  valid: RawReading[],
  encode: (r: RawReading) => string,
  hostile: Uint8Array[],
  cuts: number[],
): Buffer[] {
  const parts: Buffer[] = [];
  valid.forEach((r, i) => {
    const bad = hostile[i];
    if (bad) parts.push(Buffer.from(bad), Buffer.from('\n'));
    parts.push(Buffer.from(`${encode(r)}\r\n`));
  });
  const all = Buffer.concat(parts);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const cut of cuts) {
    const end = Math.min(all.length, at + 1 + cut);
    chunks.push(all.subarray(at, end));
    at = end;
  }
  if (at < all.length) chunks.push(all.subarray(at));
  return chunks;
}

const validReading = fc.record({
  sensor: fc.nat({ max: 99 }).map((n) => `valid-${n}`),
  metric: fc.stringMatching(/^[a-z_]{1,12}$/),
  value: fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => v + 0), // -0 is written as 0
  ts: fc.nat({ max: 4_000_000_000_000 }),
});

/** Hostile lines, some longer than a frame may be (1 MB without a newline among them). */
const hostileLine = fc.oneof(
  { weight: 5, arbitrary: hostile },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(Buffer.alloc(1 << 20, 0x7b))) },
);

for (const format of ['line', 'jsonl'] as const) {
  test(`${format} stream: valid frames around hostile lines (up to 1 MB) all decode, in order, whatever the chunking`, () => {
    const encode =
      format === 'line'
        ? (r: RawReading) => encodeLine({ sensor: r.sensor, values: [[r.metric, r.value]], ts: r.ts })
        : encodeJsonLine;
    const decode =
      format === 'line'
        ? (l: Uint8Array) => decodeLine(l, { requireChecksum: false })
        : (l: Uint8Array) => decodeJsonLine(l, {});
    fc.assert(
      fc.property(
        fc.array(validReading, { minLength: 1, maxLength: 30 }),
        fc.array(fc.option(hostileLine, { freq: 2 }), { maxLength: 30 }),
        fc.array(fc.nat({ max: 5000 }), { maxLength: 50 }),
        (valid, hostile, cuts) => {
          const framer = new LineFramer();
          const decoded: RawReading[] = [];
          for (const chunk of framedStream(valid, encode, hostile.map((h) => h ?? undefined) as Uint8Array[], cuts)) {
            for (const frame of framer.push(chunk)) {
              if (frame.kind !== 'line') continue;
              const result = decode(frame.bytes);
              assertTotal(result);
              if (result.ok) decoded.push(...result.readings.filter((r) => /^valid-\d+$/.test(r.sensor)));
            }
          }
          assert.deepEqual(
            decoded.map((r) => [r.sensor, r.metric, r.value, r.ts]),
            valid.map((r) => [r.sensor, r.metric, r.value, r.ts]),
          );
        },
      ),
      { numRuns: 60 },
    );
  });
}

test('a decoder that throws (a bug) turns into an internal_error rejection of that input', () => {
  const decode = guarded<Uint8Array, FrameResult>(
    (b) => {
      if (b[0] === 0x21) throw new TypeError('boom');
      return { ok: true, readings: [] };
    },
    (rejection) => ({ ok: false, rejection }),
  );
  assert.deepEqual(decode(Buffer.from('ok')), { ok: true, readings: [] });
  const bad = decode(Buffer.from('!bad'));
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && bad.rejection.reason, 'internal_error');
  assert.match(!bad.ok ? bad.rejection.detail : '', /TypeError: boom/);
  assert.deepEqual(!bad.ok && Buffer.from(bad.rejection.payload as Uint8Array).toString(), '!bad');
});
