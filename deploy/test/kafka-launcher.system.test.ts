import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { KAFKA_VERSIONS, type KafkaBroker, startKafka } from '../kafka/launcher.js';

const TOPIC = 'launcher-selftest';

async function consumeOne(
  brokers: string[],
  groupId: string,
  timeoutMs = 30_000,
): Promise<{ key: string; value: string; offset: string }> {
  const kafka = new Kafka({ clientId: 'launcher-test', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no message within ${timeoutMs} ms (group ${groupId})`)),
        timeoutMs,
      );
      consumer
        .run({
          eachMessage: async ({ message }) => {
            clearTimeout(timer);
            resolve({
              key: message.key?.toString() ?? '',
              value: message.value?.toString() ?? '',
              offset: message.offset,
            });
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}

for (const version of [KAFKA_VERSIONS.latest, KAFKA_VERSIONS.legacy]) {
  test(`Kafka ${version}: start, produce/consume, restart keeps data, destroy`, { timeout: 240_000 }, async (t) => {
    const log = (msg: string): void => t.diagnostic(msg);
    const t0 = Date.now();
    let broker: KafkaBroker | undefined = await startKafka({ version, log });
    try {
      t.diagnostic(`started in ${Date.now() - t0} ms`);
      assert.equal(broker.version, version);
      assert.equal(broker.brokers.length, 1);
      assert.match(broker.brokers[0]!, /^127\.0\.0\.1:\d+$/);
      assert.ok(existsSync(broker.dataDir));

      const kafka = new Kafka({ clientId: 'launcher-test', brokers: broker.brokers, logLevel: logLevel.NOTHING });
      const admin = kafka.admin();
      await admin.connect();
      try {
        const cluster = await admin.describeCluster();
        assert.equal(cluster.brokers.length, 1);
        assert.equal(
          await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }], waitForLeaders: true }),
          true,
        );
      } finally {
        await admin.disconnect();
      }

      const producer = kafka.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      try {
        await producer.send({ topic: TOPIC, acks: -1, messages: [{ key: 'k1', value: `hello from ${version}` }] });
      } finally {
        await producer.disconnect();
      }

      assert.deepEqual(await consumeOne(broker.brokers, 'g-before'), {
        key: 'k1',
        value: `hello from ${version}`,
        offset: '0',
      });

      const tStop = Date.now();
      await broker.stop();
      t.diagnostic(`stopped in ${Date.now() - tStop} ms`);
      const tStart = Date.now();
      await broker.start();
      t.diagnostic(`restarted in ${Date.now() - tStart} ms`);

      assert.deepEqual(await consumeOne(broker.brokers, 'g-after'), {
        key: 'k1',
        value: `hello from ${version}`,
        offset: '0',
      });

      const dataDir = broker.dataDir;
      const b = broker;
      broker = undefined;
      await b.destroy();
      assert.equal(existsSync(dataDir), false, 'destroy() removes the temp data dir');
      await assert.rejects(b.start(), /destroyed/);
    } finally {
      await broker?.destroy();
    }
  });
}
