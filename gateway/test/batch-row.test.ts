import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeRow, encodeRow, type RowReading } from '../buffer/batch-row.js';
import { unpackValue } from '../buffer/legacy-rows.js';
import { encodeRecord, type ReadingRecord } from '../ingest/record.js';

const record: ReadingRecord = {
  gateway: 'line3-pi07',
  source: 'plant-mqtt',
  sensor: 'pump-3',
  metric: 'temp',
  value: 71.3,
  unit: 'C',
  ts: 1732400000123,
  seq: 18233,
  bootId: '6f1c2a4e-8d1b-4c3a-9e5f-2b7d0a9c8e41',
  clockSynced: true,
};

/** A steady stream's commit: 50 readings of ten sensors, numbered from `first`. */
function commit(first: number): RowReading[] {
  return Array.from({ length: 50 }, (_, i) => ({
    key: `line3-pi07/pump-${i % 10}`,
    ts: record.ts + i * 2,
    value: encodeRecord({
      ...record,
      sensor: `pump-${i % 10}`,
      value: 70 + (i % 7) / 10,
      ts: record.ts + i * 2,
      seq: first + i,
    }),
  }));
}

test('a row gives back its readings exactly, in order, numbered from its first seq', () => {
  const readings = commit(501);
  const row = encodeRow(501, readings);
  assert.deepEqual([row.first, row.last, row.ts], [501, 550, record.ts]);
  const back = decodeRow(row.first, row.last, row.body);
  assert.deepEqual(
    back.map(({ seq, key, value, ts }) => ({ seq, key, value, ts })),
    readings.map((r, i) => ({ seq: 501 + i, ...r })),
  );
  assert.equal(back[0]!.bytes, Buffer.byteLength(readings[0]!.key) + Buffer.byteLength(readings[0]!.value) + 24);
  // Neighbouring records repeat most of their text: a commit's row is a fraction of its JSON.
  const json = readings.reduce((n, r) => n + r.value.length, 0);
  assert.ok(row.bytes * 5 < json, `${row.bytes} bytes stored for ${json} bytes of JSON`);
});

test('any records, whatever their strings hold, come back exactly', () => {
  // Names with quotes, backslashes, control characters (the row's own separators among them).
  const text = fc.oneof(
    fc.string({ unit: 'binary' }),
    fc.constantFrom('\x1e', '\x1f', '"seq":', '\\"ts\\":', '\u0000'),
  );
  const reading = fc.record({
    sensor: text,
    metric: text,
    unit: fc.option(text, { nil: undefined }),
    value: fc.double(),
  });
  fc.assert(
    fc.property(
      fc.array(reading, { minLength: 1, maxLength: 20 }),
      fc.integer({ min: 1, max: 2 ** 40 }),
      (rs, first) => {
        const readings = rs.map((r, i) => ({
          key: 'gw/s',
          ts: i,
          value: encodeRecord({ ...record, ...r, value: Number.isFinite(r.value) ? r.value : 0, seq: first + i }),
        }));
        const row = encodeRow(first, readings);
        assert.deepEqual(
          decodeRow(row.first, row.last, row.body).map((r) => r.value),
          readings.map((r) => r.value),
        );
      },
    ),
    { numRuns: 500 },
  );
});

test('a damaged row is damage, as SQLite reports a damaged page: a flipped byte, a cut body, other seqs', () => {
  const row = encodeRow(1, commit(1));
  const corrupt = { code: 'SQLITE_CORRUPT' };
  const flipped = Buffer.from(row.body);
  flipped[Math.floor(flipped.length / 2)]! ^= 0x40;
  assert.throws(() => decodeRow(1, 50, flipped), corrupt);
  assert.throws(() => decodeRow(1, 50, row.body.subarray(0, row.body.length - 9)), corrupt);
  assert.throws(() => decodeRow(1, 49, row.body), corrupt, 'a row holding more readings than its seqs');
  assert.throws(() => decodeRow(2, 51, row.body), corrupt, 'records that do not carry the row’s seqs');
});

test('a value an older version stored without its field names comes back as its JSON; plain JSON as it is', () => {
  const json = encodeRecord(record);
  const packed =
    '{\x10"line3-pi07",\x11"plant-mqtt",\x12"pump-3",\x13"temp",\x1471.3,\x15"C",\x161732400000123,\x1718233,' +
    '\x18"6f1c2a4e-8d1b-4c3a-9e5f-2b7d0a9c8e41",\x19true}';
  assert.equal(unpackValue(packed), json);
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      const plain = JSON.stringify(v);
      assert.equal(unpackValue(plain), plain);
    }),
    { numRuns: 1000 },
  );
});
