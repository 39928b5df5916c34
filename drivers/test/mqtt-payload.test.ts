import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileTopicPattern, decodePayload } from '../mqtt/payload.js';

const names = { sensor: 'pump-3', metric: 'temp' };
const dec = (s: string | Uint8Array, max = 65536) =>
  decodePayload(typeof s === 'string' ? Buffer.from(s) : s, names, max);

test('a bare number takes sensor and metric from the topic', () => {
  assert.deepEqual(dec('21.5'), { ok: true, reading: { sensor: 'pump-3', metric: 'temp', value: 21.5 } });
  assert.deepEqual(dec(' -1.5e3\n'), { ok: true, reading: { sensor: 'pump-3', metric: 'temp', value: -1500 } });
});

test('a JSON object: value, ts (epoch ms or ISO 8601), unit, and sensor/metric that win over the topic', () => {
  assert.deepEqual(dec('{"value": 21.5, "ts": 1732400000123, "unit": "C", "sensor": "pump-9", "metric": "t2"}'), {
    ok: true,
    reading: { sensor: 'pump-9', metric: 't2', value: 21.5, unit: 'C', ts: 1732400000123 },
  });
  assert.deepEqual(dec('{"value": true, "ts": "2024-11-23T22:13:20.123Z"}'), {
    ok: true,
    reading: { sensor: 'pump-3', metric: 'temp', value: 1, ts: Date.UTC(2024, 10, 23, 22, 13, 20, 123) },
  });
  assert.equal((dec('{"value": false}') as any).reading.value, 0);
});

test('everything else is rejected with a reason', () => {
  const reason = (s: string | Uint8Array, max?: number) => {
    const d = dec(s, max);
    return d.ok ? 'accepted' : d.rejection.reason;
  };
  assert.equal(reason('{"value": 21.5'), 'invalid_json');
  assert.equal(reason('NaN'), 'not_a_number');
  assert.equal(reason('hot'), 'not_a_number');
  assert.equal(reason('"21.5"'), 'not_a_number');
  assert.equal(reason('[1,2]'), 'not_a_number');
  assert.equal(reason('1e999'), 'not_a_number');
  assert.equal(reason('{"value": "21.5"}'), 'not_a_number');
  assert.equal(reason('{"value": null}'), 'not_a_number');
  assert.equal(reason('{"unit": "C"}'), 'missing_field');
  assert.equal(reason('{"value": 1, "sensor": "a b"}'), 'bad_name');
  assert.equal(reason('{"value": 1, "ts": "yesterday"}'), 'bad_timestamp');
  assert.equal(reason('{"value": 1, "ts": -5}'), 'bad_timestamp');
  // Before 1970 as an ISO string too, as the number would be.
  assert.equal(reason('{"value": 1, "ts": "1969-12-31T23:59:59.999Z"}'), 'bad_timestamp');
  assert.equal(reason(`{"value": 1, "unit": "${'u'.repeat(100)}"}`), 'bad_unit');
  assert.equal(reason(Buffer.alloc(1024 * 1024, 0x31), 65536), 'too_large');
  assert.equal(reason(''), 'not_a_number');
});

test('topic patterns capture sensor and metric; without one the last two levels are used', () => {
  const p = compileTopicPattern('plant/{sensor}/{metric}');
  assert.deepEqual(p('plant/pump-3/temp'), { sensor: 'pump-3', metric: 'temp' });
  assert.equal(p('plant/pump-3'), undefined);
  assert.equal(p('other/pump-3/temp'), undefined);
  assert.deepEqual(compileTopicPattern('site/+/{sensor}/#')('site/a/fan-2/x/y'), { sensor: 'fan-2' });
  assert.deepEqual(compileTopicPattern(undefined)('a/b/fan-2/rpm'), { sensor: 'fan-2', metric: 'rpm' });
  assert.deepEqual(compileTopicPattern(undefined)('fan-2'), { sensor: 'fan-2', metric: 'value' });
});
