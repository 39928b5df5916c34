import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { promisify } from 'node:util';
import fc from 'fast-check';

// kafkajs's own grouping, taken before the replacement is installed over it (kafkajs itself not loaded yet).
const require = createRequire(import.meta.url);
const GROUPING_MODULE = 'kafkajs/src/producer/groupMessagesPerPartition.js';
const kafkajsGroup = require(GROUPING_MODULE);
const { groupMessagesPerPartition } = await import('../uplink/kafkajs-partition-grouping.js');
await import('../uplink/kafkajs.js');

test('messages are grouped by partition exactly as kafkajs groups them', () => {
  // The partition each message names, as the uplink's do (kafkajs's default partitioner counts
  // round robin for keyless messages, so two groupings in a row would not see the same partitions).
  const partitioner = ({ message }: { message: { partition?: number } }) => message.partition ?? 0;
  const messages = fc.array(fc.record({ key: fc.option(fc.string()), value: fc.string(), partition: fc.nat(7) }), {
    maxLength: 300,
  });
  fc.assert(
    fc.property(messages, fc.integer({ min: 0, max: 8 }), (list, partitions) => {
      const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
        partitionId,
        leader: 0,
        partitionErrorCode: 0,
        replicas: [0],
        isr: [0],
      }));
      const input = {
        topic: 't',
        partitionMetadata,
        messages: list,
        partitioner,
      };
      assert.deepEqual(groupMessagesPerPartition(input), kafkajsGroup(input));
    }),
  );
});

test("kafkajs's producer groups with the replacement", () => {
  assert.equal(require(GROUPING_MODULE), groupMessagesPerPartition);
  // Loaded after the replacement (by ./kafkajs.js), so it took the replacement from the module cache.
  assert.ok(require.cache[require.resolve('kafkajs/src/producer/sendMessages.js')]);
});

test('installing the replacement after kafkajs has loaded fails loudly instead of doing nothing', async () => {
  const late = `require('kafkajs'); import(${JSON.stringify(new URL('../uplink/kafkajs.js', import.meta.url).href)})
    .then(() => process.exit(0), (e) => { console.error(e.message); process.exit(3); });`;
  const run = promisify(execFile)(process.execPath, ['-e', late], { cwd: process.cwd() });
  await assert.rejects(run, (e: { code: number; stderr: string }) => {
    assert.equal(e.code, 3);
    assert.match(e.stderr, /sendMessages\.js was loaded before .*groupMessagesPerPartition\.js was replaced/);
    return true;
  });
});
