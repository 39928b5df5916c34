/** KafkaUplink (kafkajs) against real brokers of both supported Kafka lines, plus the forwarder's isolation of oversize records. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { KAFKA_VERSIONS, type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { Forwarder } from '../forwarder/forwarder.js';
import { Status } from '../status/status.js';
import { KafkaUplink, TransactionalKafkaUplink } from '../uplink/kafka-uplink.js';
import { waitFor } from './support/gateway-process.js';
import { readTopic } from './support/kafka-reader.js';
import { contractKafkaConfig, uplinkContract } from './uplink-contract.js';

const log = pino({ level: 'silent' });

const kafkaConfig = (brokers: string[], topic: string, compression = 'gzip', delivery = 'at-least-once') =>
  contractKafkaConfig(brokers, topic, { compression, delivery });

for (const version of [KAFKA_VERSIONS.latest, KAFKA_VERSIONS.legacy]) {
  describe(`KafkaUplink on Kafka ${version}`, { concurrency: false }, () => {
    let broker: KafkaBroker;
    before(async () => {
      broker = await startKafka({ version });
    });
    after(async () => {
      await broker?.destroy();
    });

    uplinkContract(
      'kafkajs-gzip',
      (brokers, topic) => new KafkaUplink(kafkaConfig(brokers, topic), 'gw-contract', log),
      () => broker,
    );
    uplinkContract(
      'kafkajs-lz4',
      (brokers, topic) => new KafkaUplink(kafkaConfig(brokers, topic, 'lz4'), 'gw-contract', log),
      () => broker,
    );
    const transactional = (topic: string) =>
      new TransactionalKafkaUplink(kafkaConfig(broker.brokers, topic, 'gzip', 'exactly-once'), 'gw-contract', log);
    uplinkContract(
      'kafkajs-transactional',
      (_brokers, topic) => transactional(topic),
      () => broker,
    );

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
        (await readTopic(broker.brokers, 'eos-resume', { readCommitted: true })).map((r) => r.value.seq).sort(),
        [1, 2, 3, 4, 5, 6],
      );
    });

    test('a broker that hangs (connections open, no answers) is given up on after callTimeoutMs and the batch is sent once it answers again', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sg-fwd-'));
      const buffer = SqliteBuffer.open(dir, {
        maxBytes: 1 << 30,
        whenFull: 'drop-oldest',
        synchronous: 'FULL',
        quarantineMaxRows: 100,
      });
      const status = new Status('gw-contract', 'test', { bootId: 'b', synced: () => true }, () => buffer.stats());
      const entry = (i: number) => ({
        key: 'gw-contract/s',
        ts: i,
        encode: (seq: number) => JSON.stringify({ seq, i }),
      });
      const uplink = new KafkaUplink(kafkaConfig(broker.brokers, 'hang'), 'gw-contract', log);
      // Shorter than kafkajs's own request timeout (30 s): the forwarder's bound must act first.
      const fwd = new Forwarder(buffer, uplink, status, log, {
        batchMaxRecords: 1000,
        batchMaxBytes: 1 << 20,
        backoff: { initialMs: 100, maxMs: 1000 },
        stopTimeoutMs: 5000,
        callTimeoutMs: 3000,
        drain: 'in-order',
        lingerMs: 0,
      });
      fwd.start();
      try {
        buffer.append([entry(1)]);
        fwd.notify();
        await waitFor('first reading sent', () => buffer.stats().depth === 0, 60_000);
        broker.freeze();
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
          broker.thaw();
        }
        await waitFor('backlog sent after the broker answers again', () => buffer.stats().depth === 0, 120_000);
      } finally {
        await fwd.stop();
        buffer.close();
        rmSync(dir, { recursive: true, force: true });
      }
      const values = (await readTopic(broker.brokers, 'hang')).map((r) => r.value.i);
      assert.deepEqual([...new Set(values)].sort(), [1, 2, 3]);
    });

    test('the forwarder isolates a record Kafka refuses as too large; the rest of its batch flows in order', async () => {
      const topic = 'isolate';
      const admin = new Kafka({ brokers: broker.brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.createTopics({
        topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '4096' }] }],
        waitForLeaders: true,
      });
      await admin.disconnect();
      const dir = mkdtempSync(join(tmpdir(), 'sg-fwd-'));
      const buffer = SqliteBuffer.open(dir, {
        maxBytes: 1 << 30,
        whenFull: 'drop-oldest',
        synchronous: 'FULL',
        quarantineMaxRows: 100,
      });
      const status = new Status('gw-contract', 'test', { bootId: 'b', synced: () => true }, () => buffer.stats());
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
      const uplink = new KafkaUplink(kafkaConfig(broker.brokers, topic, 'none'), 'gw-contract', log);
      const fwd = new Forwarder(buffer, uplink, status, log, {
        batchMaxRecords: 1000,
        batchMaxBytes: 1 << 20,
        backoff: { initialMs: 100, maxMs: 1000 },
        stopTimeoutMs: 5000,
        callTimeoutMs: 60_000,
        drain: 'in-order',
        lingerMs: 0,
      });
      fwd.start();
      try {
        await waitFor('buffer drained', () => buffer.stats().depth === 0, 60_000);
      } finally {
        await fwd.stop();
      }
      const got = await readTopic(broker.brokers, topic);
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
      rmSync(dir, { recursive: true, force: true });
    });
  });
}
