import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { packValue, unpackValue } from '../buffer/stored-value.js';
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

test('a record is stored without its field names and comes back exactly', () => {
  const json = encodeRecord(record);
  const stored = packValue(json);
  assert.doesNotMatch(stored, /"[A-Za-z]+":/, 'every field name of the record is packed');
  assert.equal(json.length - stored.length, 76, 'ten names of 86 characters, one character each');
  assert.equal(unpackValue(stored), json);
  const { unit: _, ...withoutUnit } = record;
  assert.equal(unpackValue(packValue(encodeRecord(withoutUnit))), encodeRecord(withoutUnit), 'unit is optional');
});

test('plain JSON, as an older version stored it, reads back unchanged', () => {
  const json = encodeRecord(record);
  assert.equal(unpackValue(json), json);
  assert.equal(unpackValue('{"seq":1}'), '{"seq":1}');
});

test('any record, whatever its strings hold, comes back exactly', () => {
  // Names with quotes, backslashes, control characters and the field names themselves in them.
  const text = fc.oneof(
    fc.string({ unit: 'binary' }),
    fc.constantFrom('"seq":', '\\"ts\\":', '\u0010', 'x"metric', '"value":"'),
  );
  fc.assert(
    fc.property(
      text,
      text,
      text,
      fc.option(text, { nil: undefined }),
      fc.double(),
      (sensor, metric, source, unit, value) => {
        const json = encodeRecord({
          ...record,
          sensor,
          metric,
          source,
          unit,
          value: Number.isFinite(value) ? value : 0,
        });
        assert.equal(unpackValue(packValue(json)), json);
      },
    ),
    { numRuns: 2000 },
  );
});

test('any JSON at all comes back exactly (what is not a record is stored as it is, or nearly)', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (v) => {
      const json = JSON.stringify(v);
      assert.equal(unpackValue(packValue(json)), json);
    }),
    { numRuns: 2000 },
  );
});
