/**
 * Records Kafka refuses, amid a backlog: a topic with max.message.bytes 2000, gzip, 3 partitions,
 * 20,000 normal readings and 30 too large for it. The 30 are quarantined and counted, the 20,000
 * all arrive, each once and in order per sensor, and no "out of order sequence number" ever
 * happens (the livelock kafkajs's rollback of sequence numbers caused when a split resent part
 * of a multi-partition request).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { validateConfig } from '../config/config.js';
import { Forwarder } from '../forwarder/forwarder.js';
import { KafkaUplink } from '../uplink/kafka-uplink.js';
import { Kafka, logLevel } from '../uplink/kafkajs.js';
import { waitFor } from './support/gateway-process.js';
import { bySensor, readTopic } from './support/kafka-reader.js';
import { bufferDefaults, capturedLog, forwarderOptions, statusOf, tempDir } from './support/pipeline-fixture.js';

let kafka: KafkaBroker;
before(async () => {
  kafka = await startKafka();
});
after(async () => {
  await kafka?.destroy();
});

test('20,000 readings and 30 too large, gzip, 3 partitions, max.message.bytes 2000: the 30 quarantined, the rest delivered once', async () => {
  const topic = 'refused';
  const admin = new Kafka({ brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: 3, configEntries: [{ name: 'max.message.bytes', value: '2000' }] }],
    waitForLeaders: true,
  });
  await admin.disconnect();

  const { log, lines } = capturedLog('debug');
  const buffer = SqliteBuffer.open(tempDir('sg-refused-'), { ...bufferDefaults, synchronous: 'NORMAL' });
  const status = statusOf('gw-refused', buffer);
  const big = new Set(Array.from({ length: 30 }, (_, i) => 300 + i * 661));
  const entries = Array.from({ length: 20_030 }, (_, i) => ({
    key: `gw-refused/s${i % 10}`,
    ts: i,
    // Random bytes: gzip cannot shrink a large one under the limit.
    encode: (seq: number) =>
      JSON.stringify({
        gateway: 'gw-refused',
        sensor: `s${i % 10}`,
        seq,
        i,
        ...(big.has(i) && { pad: randomBytes(3000).toString('base64') }),
      }),
  }));
  for (let i = 0; i < entries.length; i += 1000) buffer.append(entries.slice(i, i + 1000));
  const cfg = validateConfig({
    gateway: { id: 'gw-refused' },
    kafka: { brokers: kafka.brokers, topic, statusTopic: `${topic}.status`, compression: 'gzip' },
    sources: [{ id: 'x', driver: 'mqtt', url: 'mqtt://127.0.0.1:1', topics: ['x'] }],
  }).kafka;
  const fwd = new Forwarder(
    buffer,
    new KafkaUplink(cfg, 'gw-refused', log),
    status,
    log,
    forwarderOptions({ batchMaxRecords: cfg.batchMaxRecords, batchMaxBytes: cfg.batchMaxBytes }),
  );
  fwd.start();
  try {
    await waitFor('the backlog drained', () => buffer.stats().depth === 0, 150_000);
  } finally {
    await fwd.stop();
  }
  const got = await readTopic(kafka.brokers, topic);
  const values = got.map((r) => r.value.i as number);
  assert.equal(new Set(values).size, 20_000, 'every normal reading arrived');
  assert.equal(values.length, 20_000, 'and each once');
  assert.ok(values.every((i) => !big.has(i)));
  for (const [sensor, list] of bySensor(got)) {
    const seqs = list.map((r) => r.value.seq as number);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
      `${sensor} in order`,
    );
  }
  const q = buffer.quarantined(100);
  assert.equal(q.length, 30);
  assert.ok(q.every((r) => r.reason === 'kafka_too_large'));
  assert.match(
    await status.registry.getSingleMetricAsString('sensorgate_readings_dropped_total'),
    /reason="kafka_too_large"\} 30/,
  );
  assert.equal(
    lines.filter((l) => /OUT_OF_ORDER|out of order sequence/i.test(JSON.stringify(l))).length,
    0,
    'no sequence-number error',
  );
  assert.equal(
    lines.filter((l) => /uplink (down|still down|retry failed)/.test(l.msg)).length,
    0,
    'no retry of the whole batch',
  );
  buffer.close();
});
