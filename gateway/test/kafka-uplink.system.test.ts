/** KafkaUplink (kafkajs) against real brokers of both supported Kafka lines, plus the forwarder's isolation of oversize records. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { Forwarder } from '../forwarder/forwarder.js';
import { KafkaUplink, TransactionalKafkaUplink } from '../uplink/kafka-uplink.js';
import { Kafka, logLevel } from '../uplink/kafkajs.js';
import { waitFor } from './support/gateway-process.js';
import { readTopic } from './support/kafka-reader.js';
import { bufferDefaults, forwarderOptions, statusOf, tempDir } from './support/pipeline-fixture.js';
import { contractKafkaConfig, onEachKafkaLine, uplinkContract } from './uplink-contract.js';

const log = pino({ level: 'silent' });

const kafkaConfig = (brokers: string[], topic: string, compression = 'gzip', delivery = 'at-least-once') =>
  contractKafkaConfig(brokers, topic, { compression, delivery });

onEachKafkaLine('KafkaUplink', (kafka) => {
  uplinkContract(
    'kafkajs-gzip',
    (brokers, topic) => new KafkaUplink(kafkaConfig(brokers, topic), 'gw-contract', log),
    kafka,
  );
  uplinkContract(
    'kafkajs-lz4',
    (brokers, topic) => new KafkaUplink(kafkaConfig(brokers, topic, 'lz4'), 'gw-contract', log),
    kafka,
  );
  const transactional = (topic: string) =>
    new TransactionalKafkaUplink(kafkaConfig(kafka().brokers, topic, 'gzip', 'exactly-once'), 'gw-contract', log);
  uplinkContract('kafkajs-transactional', (_brokers, topic) => transactional(topic), kafka);

  test('exactly-once: connect reports the last committed seq, and a new session fences the old one', async () => {
    const first = transactional('eos-resume');
    assert.deepEqual(await first.connect(), { committedSeq: null });
    const rec = (seq: number) => ({ seq, key: 'gw-contract/s', value: JSON.stringify({ seq }), ts: seq, bytes: 10 });
    await first.send([rec(1), rec(2)]);
    await first.send([rec(3), rec(4), rec(5)]);
    const second = transactional('eos-resume');
    assert.deepEqual(await second.connect(), { committedSeq: 5 });
    await assert.rejects(first.send([rec(6)]), 'the older session is fenced');
    await second.send([rec(6)]);
    await first.close();
    await second.close();
    const third = transactional('eos-resume');
    assert.deepEqual(await third.connect(), { committedSeq: 6 });
    await third.close();
    assert.deepEqual(
      (await readTopic(kafka().brokers, 'eos-resume', { readCommitted: true })).map((r) => r.value.seq).sort(),
      [1, 2, 3, 4, 5, 6],
    );
  });

  test('a broker that hangs (connections open, no answers) is given up on after callTimeoutMs and the batch is sent once it answers again', async () => {
    const buffer = SqliteBuffer.open(tempDir('sg-fwd-'), bufferDefaults);
    const status = statusOf('gw-contract', buffer);
    const entry = (i: number) => ({
      key: 'gw-contract/s',
      ts: i,
      encode: (seq: number) => JSON.stringify({ seq, i }),
    });
    const uplink = new KafkaUplink(kafkaConfig(kafka().brokers, 'hang'), 'gw-contract', log);
    // Shorter than kafkajs's own request timeout (30 s): the forwarder's bound must act first.
    const fwd = new Forwarder(buffer, uplink, status, log, forwarderOptions({ callTimeoutMs: 3000 }));
    fwd.start();
    try {
      buffer.append([entry(1)]);
      fwd.notify();
      await waitFor('first reading sent', () => buffer.stats().depth === 0, 60_000);
      kafka().freeze();
      try {
        buffer.append([entry(2), entry(3)]);
        fwd.notify();
        await waitFor(
          'the hang noticed',
          () => /timed out after 3000 ms/.test(status.snapshot().uplink.lastError ?? ''),
          60_000,
        );
        assert.equal(buffer.stats().depth, 2, 'nothing acknowledged, nothing deleted');
      } finally {
        kafka().thaw();
      }
      await waitFor('backlog sent after the broker answers again', () => buffer.stats().depth === 0, 120_000);
    } finally {
      await fwd.stop();
      buffer.close();
    }
    const values = (await readTopic(kafka().brokers, 'hang')).map((r) => r.value.i);
    assert.deepEqual([...new Set(values)].sort(), [1, 2, 3]);
  });

  test('the forwarder isolates a record Kafka refuses as too large; the rest of its batch flows in order', async () => {
    const topic = 'isolate';
    const admin = new Kafka({ brokers: kafka().brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '4096' }] }],
      waitForLeaders: true,
    });
    await admin.disconnect();
    const buffer = SqliteBuffer.open(tempDir('sg-fwd-'), bufferDefaults);
    const status = statusOf('gw-contract', buffer);
    const entry = (i: number, pad = '') => ({
      key: 'gw-contract/s',
      ts: i,
      encode: (seq: number) => JSON.stringify({ seq, i, pad }),
    });
    buffer.append([
      ...Array.from({ length: 15 }, (_, i) => entry(i)),
      entry(15, 'x'.repeat(20_000)),
      ...Array.from({ length: 15 }, (_, i) => entry(16 + i)),
    ]);
    const uplink = new KafkaUplink(kafkaConfig(kafka().brokers, topic, 'none'), 'gw-contract', log);
    const fwd = new Forwarder(buffer, uplink, status, log, forwarderOptions());
    fwd.start();
    try {
      await waitFor('buffer drained', () => buffer.stats().depth === 0, 60_000);
    } finally {
      await fwd.stop();
    }
    const got = await readTopic(kafka().brokers, topic);
    assert.deepEqual(
      got.map((r) => r.value.i),
      [...Array.from({ length: 15 }, (_, i) => i), ...Array.from({ length: 15 }, (_, i) => 16 + i)],
    );
    const q = buffer.quarantined(10);
    assert.equal(q.length, 1);
    assert.equal(q[0]!.reason, 'kafka_too_large');
    assert.match(q[0]!.detail, /^seq 16: /);
    assert.match(
      await status.registry.getSingleMetricAsString('sensorgate_readings_dropped_total'),
      /reason="kafka_too_large"\} 1/,
    );
    buffer.close();
  });
});
