/**
 * The contract every Uplink implementation passes, against a real broker: how the forwarder may
 * rely on it. A new Kafka client (replacing kafkajs) is accepted when it passes this suite.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { KafkaCluster } from '../../deploy/kafka/cluster.js';
import { KAFKA_VERSIONS, type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import type { StoredRecord } from '../buffer/buffer.js';
import { validateConfig } from '../config/config.js';
import { Kafka, logLevel } from '../uplink/kafkajs.js';
import { type Uplink, UplinkError } from '../uplink/uplink.js';
import { waitFor } from './support/gateway-process.js';
import { readTopic } from './support/kafka-reader.js';

/** The kafka config of gateway `gw-contract` producing to `topic` (3 partitions, gzip unless `over` says otherwise). */
export function contractKafkaConfig(brokers: string[], topic: string, over: Record<string, unknown> = {}) {
  return validateConfig({
    gateway: { id: 'gw-contract' },
    kafka: {
      brokers,
      topic,
      statusTopic: `${topic}.status`,
      offsetsTopic: `${topic}.offsets`,
      partitions: 3,
      compression: 'gzip',
      ...over,
    },
    sources: [{ id: 'x', driver: 'mqtt', url: 'mqtt://127.0.0.1:1', topics: ['x'] }],
  }).kafka;
}

/**
 * `suite` once against a broker of each supported Kafka line (the newest 4.x and the last 3.x), in
 * a describe named `what on Kafka <version>` whose tests run one at a time.
 */
export function onEachKafkaLine(what: string, suite: (broker: () => KafkaBroker) => void): void {
  for (const version of [KAFKA_VERSIONS.latest, KAFKA_VERSIONS.legacy]) {
    describe(`${what} on Kafka ${version}`, { concurrency: false }, () => {
      let broker: KafkaBroker;
      before(async () => {
        broker = await startKafka({ version });
      });
      after(async () => {
        await broker?.destroy();
      });
      suite(() => broker);
    });
  }
}

/** An uplink for gateway `gw-contract` producing to `topic`, status topic `${topic}.status`. */
export type UplinkFactory = (brokers: string[], topic: string) => Uplink;

function records(from: number, n: number, pad = ''): StoredRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const seq = from + i;
    const value = JSON.stringify({ gateway: 'gw-contract', sensor: `s${seq % 3}`, seq, pad });
    return { seq, key: `gw-contract/s${seq % 3}`, value, ts: 1000 + seq, bytes: value.length };
  });
}

export function uplinkContract(name: string, factory: UplinkFactory, broker: () => KafkaBroker): void {
  let n = 0;
  const topic = () => `contract-${name}-${++n}`;
  const admin = async () => {
    const a = new Kafka({ brokers: broker().brokers, logLevel: logLevel.NOTHING }).admin();
    await a.connect();
    return a;
  };

  test(`${name}: connect creates the readings topic and a compacted status topic`, async () => {
    const t = topic();
    const up = factory(broker().brokers, t);
    await up.connect();
    await up.close();
    const a = await admin();
    try {
      assert.ok((await a.listTopics()).includes(t));
      const cfg = await a.describeConfigs({
        resources: [{ type: 2, name: `${t}.status`, configNames: ['cleanup.policy'] }],
        includeSynonyms: false,
      });
      assert.equal(cfg.resources[0]!.configEntries[0]!.configValue, 'compact');
    } finally {
      await a.disconnect();
    }
  });

  test(`${name}: send delivers key, value and contract headers verbatim, in order`, async () => {
    const t = topic();
    const up = factory(broker().brokers, t);
    await up.connect();
    const batch = records(1, 300);
    await up.send(batch.slice(0, 100));
    await up.send(batch.slice(100));
    await up.close();
    const got = await readTopic(broker().brokers, t);
    assert.equal(got.length, 300);
    const bySeq = new Map(got.map((r) => [r.value.seq as number, r]));
    for (const r of batch) {
      const k = bySeq.get(r.seq)!;
      assert.equal(k.key, r.key);
      assert.deepEqual(k.value, JSON.parse(r.value));
      assert.deepEqual(k.headers, {
        'sg-gateway': 'gw-contract',
        'sg-seq': String(r.seq),
        'sg-schema': 'reading/1',
        'content-type': 'application/json',
      });
    }
    for (let p = 0; p < 3; p++) {
      const seqs = got
        .filter((r) => r.partition === p)
        .sort((a, b) => a.offset - b.offset)
        .map((r) => r.value.seq);
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => a - b),
        `partition ${p} in seq order`,
      );
    }
  });

  test(`${name}: records over the topic's size limit are refused alone; the rest of the batch is delivered in order, once`, async () => {
    const t = topic();
    const a = await admin();
    await a.createTopics({
      topics: [{ topic: t, numPartitions: 3, configEntries: [{ name: 'max.message.bytes', value: '4096' }] }],
      waitForLeaders: true,
    });
    await a.disconnect();
    const up = factory(broker().brokers, t);
    await up.connect();
    // Random bytes: compression must not shrink them under the limit.
    const batch = records(1, 60);
    const big = new Set([7, 8, 31]);
    for (const r of batch)
      if (big.has(r.seq)) r.value = JSON.stringify({ seq: r.seq, pad: randomBytes(15_000).toString('base64') });
    const { refused } = await up.send(batch);
    assert.deepEqual(
      refused.map((r) => [r.record.seq, r.reason]),
      [...big].map((s) => [s, 'kafka_too_large']),
    );
    await up.send(records(61, 3)); // and the connection is still usable
    await up.close();
    const got = await readTopic(broker().brokers, t);
    assert.deepEqual(
      got.map((r) => r.value.seq as number).sort((x, y) => x - y),
      Array.from({ length: 63 }, (_, i) => i + 1).filter((s) => !big.has(s)),
    );
    for (let p = 0; p < 3; p++) {
      const seqs = got
        .filter((r) => r.partition === p)
        .sort((x, y) => x.offset - y.offset)
        .map((r) => r.value.seq);
      assert.deepEqual(
        seqs,
        [...seqs].sort((x, y) => x - y),
        `partition ${p} in seq order`,
      );
    }
  });

  test(`${name}: with the broker down, check, connect and send fail as unavailable; after it returns a fresh connect works`, async () => {
    const t = topic();
    const up = factory(broker().brokers, t);
    await up.connect();
    await up.check();
    await broker().stop();
    try {
      await assert.rejects(
        up.check(),
        (err: unknown) => err instanceof UplinkError,
        'an idle uplink notices the broker is gone',
      );
      await assert.rejects(up.send(records(1, 5)), (err: unknown) => err instanceof UplinkError);
      await up.close();
      await assert.rejects(up.connect(), (err: unknown) => err instanceof UplinkError);
    } finally {
      await broker().start();
    }
    await up.close();
    await up.connect();
    await up.send(records(1, 5));
    await up.close();
    assert.equal((await readTopic(broker().brokers, t)).length, 5);
  });
}

/**
 * The promise under a leader failover, on a replicated cluster: whatever the client library does
 * when a partition's leader dies mid-request, a send that resolves has every one of its records
 * in Kafka. Sends go on, reconnecting after each failure as the forwarder does, while the leader
 * of a partition is SIGKILLed and restarted.
 */
export function uplinkFailoverContract(name: string, factory: UplinkFactory, cluster: () => KafkaCluster): void {
  test(`${name}: a partition leader SIGKILLed mid-stream: every record of every resolved send is in Kafka`, async () => {
    const t = `failover-contract-${name}`;
    const up = factory(cluster().brokers, t);
    // connect() creates the topic; on a loaded machine the broker asked next for its metadata may
    // not know it yet ("does not host this topic-partition"). The forwarder retries a failed
    // connect; so does this setup step. The promise under test is about the sends below.
    await waitFor(
      'the first connect',
      async () => {
        await up.connect();
        return true;
      },
      60_000,
    );
    const acknowledged: number[] = [];
    let next = 1;
    let running = true;
    let killed = false;
    let afterKill = 0;
    const pump = (async () => {
      while (running) {
        // Twelve sensors: every partition gets some of each batch.
        const batch = Array.from({ length: 300 }, (_, i): StoredRecord => {
          const seq = next + i;
          const value = JSON.stringify({ gateway: 'gw-contract', seq });
          return { seq, key: `gw-contract/s${seq % 12}`, value, ts: seq, bytes: value.length };
        });
        try {
          await up.send(batch);
          acknowledged.push(...batch.map((r) => r.seq));
          next += batch.length;
          if (killed) afterKill += batch.length;
        } catch {
          await up.close();
          await new Promise((r) => setTimeout(r, 250));
          await up.connect().catch(() => undefined);
        }
      }
    })();
    await new Promise((r) => setTimeout(r, 1000));
    const leader = await cluster().leaderOf(t, 0);
    await cluster().kill(leader);
    killed = true;
    await new Promise((r) => setTimeout(r, 8000));
    await cluster().restart(leader);
    await new Promise((r) => setTimeout(r, 2000));
    running = false;
    await pump;
    await up.close();
    assert.ok(afterKill > 0, 'sends were acknowledged after the leader was killed');
    // Read until it all shows, within a minute: right after the restart, leadership moves back to
    // the restarted broker, whose high watermark lags until its followers fetch again, and a read
    // stops at the high watermark. A record truly lost never shows.
    let missing: number[] = [];
    await waitFor(
      'every acknowledged record readable',
      async () => {
        const inKafka = new Set((await readTopic(cluster().brokers, t)).map((r) => r.value.seq as number));
        missing = acknowledged.filter((s) => !inKafka.has(s));
        return missing.length === 0;
      },
      60_000,
    ).catch(() => undefined);
    assert.deepEqual(missing, [], 'acknowledged but not in Kafka');
  });
}
