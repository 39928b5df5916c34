/**
 * The buffer's held messages (MQTT QoS 2 messages between PUBREC and PUBREL): kept per source
 * across reopening, and held or forgotten in the same transaction as the readings they come with,
 * so that a failed commit changes neither.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { bufferDefaults, tempDir } from './support/pipeline-fixture.js';

const dir = tempDir('sg-held-');
const options = bufferDefaults;
const message = (id: number, text: string) => ({ id, topic: `plant/s/${id}`, payload: Buffer.from(text) });
const held = (b: SqliteBuffer, source: string) =>
  b.heldMessages(source).map((m) => [m.id, m.topic, m.payload.toString()]);

test('held messages survive reopening, per source, and are forgotten in the transaction that takes them in', () => {
  let b = SqliteBuffer.open(dir, options);
  b.append(
    [],
    [],
    [
      { source: 'a', hold: message(1, '21.5') },
      { source: 'a', hold: message(2, '22') },
      { source: 'b', hold: message(1, 'x') },
    ],
  );
  b.append([], [], [{ source: 'a', hold: message(2, '23') }]); // the same id again (a redelivered PUBLISH): replaced
  b.close();

  b = SqliteBuffer.open(dir, options);
  assert.deepEqual(held(b, 'a'), [
    [1, 'plant/s/1', '21.5'],
    [2, 'plant/s/2', '23'],
  ]);
  assert.deepEqual(held(b, 'b'), [[1, 'plant/s/1', 'x']]);

  // A commit that fails (here: a record that cannot be encoded) changes neither readings nor held messages.
  const broken = {
    key: 'gw/s',
    ts: 1,
    encode: (): string => {
      throw new Error('disk on fire');
    },
  };
  assert.throws(() => b.append([broken], [], [{ source: 'a', release: 1 }]), /disk on fire/);
  assert.deepEqual(
    held(b, 'a').map(([id]) => id),
    [1, 2],
  );
  assert.equal(b.stats().depth, 0);

  b.append(
    [{ key: 'gw/s', ts: 1, encode: (seq) => JSON.stringify({ seq, value: 21.5 }) }],
    [],
    [{ source: 'a', release: 1 }],
  );
  assert.deepEqual(
    held(b, 'a').map(([id]) => id),
    [2],
  );
  assert.deepEqual(
    held(b, 'b').map(([id]) => id),
    [1],
    'other sources keep theirs',
  );
  assert.equal(b.stats().depth, 1);
  b.close();
});
