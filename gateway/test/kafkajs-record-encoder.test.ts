import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import fc from 'fast-check';
import type { EncodedRecord, RecordInput } from '../uplink/kafkajs-record-encoder.js';

// kafkajs's own record encoder, taken before the replacement is installed over it.
const require = createRequire(import.meta.url);
const RECORD_MODULE = 'kafkajs/src/protocol/recordBatch/record/v0/index.js';
const kafkajsEncode: (r: RecordInput) => EncodedRecord = require(RECORD_MODULE);
const { encodeRecord } = await import('../uplink/kafkajs-record-encoder.js');

const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ minLength: 100, maxLength: 400 }));
const bytes = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
const field = fc.oneof(text, bytes, fc.constant(null), fc.constant(undefined));
const headerValue = fc.oneof(text, bytes);
const record = fc.record(
  {
    offsetDelta: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    // Deltas of milliseconds: a batch can hold a reading from before its first one, or from years apart.
    timestampDelta: fc.oneof(fc.integer(), fc.integer({ min: -(2 ** 52), max: 2 ** 52 })),
    key: field,
    value: field,
    headers: fc.dictionary(fc.string(), fc.oneof(headerValue, fc.array(headerValue, { maxLength: 3 }))),
  },
  { requiredKeys: [] },
);

test('a record encodes to the very bytes kafkajs would send', () => {
  fc.assert(
    fc.property(record, (r) => {
      const ours = encodeRecord(r);
      assert.deepEqual(ours.buffer, kafkajsEncode(r).buffer);
      assert.equal(ours.buf, ours.buffer);
    }),
    { numRuns: 2000 },
  );
});

test("the gateway's own record shape: text key, Buffer value, four text headers", () => {
  const r = {
    offsetDelta: 41,
    timestampDelta: 17,
    key: 'line3-pi07/pump-3',
    value: Buffer.from('{"sensor":"pump-3","value":71.3}'),
    headers: { 'sg-gateway': 'line3-pi07', 'sg-seq': '18233', 'sg-schema': '1', 'content-type': 'application/json' },
  };
  assert.deepEqual(encodeRecord(r).buffer, kafkajsEncode(r).buffer);
});

test('a null header value is sent as a null (kafkajs itself cannot size one)', () => {
  const encoded = encodeRecord({ headers: { trace: null } }).buffer;
  // body of 13 bytes (zigzag 26): attributes, timestamp 0, offset 0, key null, value null,
  // one header (zigzag 2), its name of 5 bytes (zigzag 10), its value null
  assert.deepEqual([...encoded], [26, 0, 0, 0, 1, 1, 2, 10, ...Buffer.from('trace'), 1]);
  assert.throws(() => kafkajsEncode({ headers: { trace: null } }), TypeError);
});

test("kafkajs's produce request encodes its records with the replacement", async () => {
  assert.equal(require(RECORD_MODULE), encodeRecord);
  // Only the replacement can encode a null header value (above): the request proves which one it holds.
  const produce = require('kafkajs/src/protocol/requests/produce/v3/request.js');
  const messages = [{ key: 'k', value: 'v', headers: { trace: null } }];
  const request = produce({
    acks: -1,
    timeout: 1000,
    topicData: [{ topic: 't', partitions: [{ partition: 0, messages }] }],
  });
  const encoded: { buffer: Buffer } = await request.encode();
  assert.ok(encoded.buffer.includes(Buffer.from('trace')));
});
