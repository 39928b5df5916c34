/**
 * The heartbeat against a real Kafka and real `sensorgate run` processes: statuses on the
 * compacted topic every interval and on state changes, nothing piling up while Kafka is away,
 * and a farewell on shutdown.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { type Broker, startBroker } from '../../drivers/test/support/mosquitto.js';
import { Kafka, logLevel } from '../uplink/kafkajs.js';
import { type GatewayProcess, gatewayProcess, waitFor } from './support/gateway-process.js';
import { type KafkaRecord, readTopic } from './support/kafka-reader.js';

const STATUS_TOPIC = 'hb.status';

describe('heartbeat', { concurrency: false }, () => {
  let kafka: KafkaBroker;
  let mqtt: Broker;
  const gateways: GatewayProcess[] = [];
  /** Heartbeats every second through the whole suite. */
  let _steady: GatewayProcess | undefined;

  before(async () => {
    [kafka, mqtt] = await Promise.all([startKafka({ version: 'latest' }), startBroker()]);
  });
  after(async () => {
    for (const g of gateways) await g.dispose();
    await mqtt?.destroy();
    await kafka?.destroy();
  });

  async function gateway(id: string, heartbeatIntervalMs: number, mqttUrl = mqtt.url): Promise<GatewayProcess> {
    const g = await gatewayProcess({
      gateway: { id },
      kafka: { brokers: kafka.brokers, topic: `hb.readings.${id}`, statusTopic: STATUS_TOPIC },
      status: { heartbeatIntervalMs },
      sources: [
        { id: 'plant', driver: 'mqtt', url: mqttUrl, topics: [`${id}/#`], topicPattern: `${id}/{sensor}/{metric}` },
      ],
    });
    gateways.push(g);
    await g.start();
    return g;
  }

  const statuses = async (id: string): Promise<KafkaRecord[]> =>
    (await readTopic(kafka.brokers, STATUS_TOPIC)).filter((r) => r.key === id);

  test('every interval a GatewayStatus, keyed by gateway id, on a compacted topic', async () => {
    _steady = await gateway('hb-steady', 1000);
    await waitFor('three heartbeats', async () => (await statuses('hb-steady')).length >= 3, 60_000);
    const records = await statuses('hb-steady');
    const s = records.at(-1)!.value;
    assert.equal(s.gateway, 'hb-steady');
    assert.equal(s.heartbeatIntervalMs, 1000);
    assert.equal(s.running, true);
    assert.deepEqual(Object.keys(s.buffer).sort(), [
      'bytes',
      'depth',
      'drainEtaS',
      'nextSeq',
      'oldestAgeS',
      'oldestTs',
      'seqReserved',
    ]);
    assert.ok(s.buffer.seqReserved >= s.buffer.nextSeq, 'every seq handed out is below the reservation');
    assert.deepEqual(
      s.sources.map((x: { id: string }) => x.id),
      ['plant'],
    );
    assert.equal(records.at(-1)!.headers['sg-schema'], 'status/1');
    const ts = records.map((r) => r.value.ts);
    assert.deepEqual(
      [...ts].sort((a, b) => a - b),
      ts,
      'published in order',
    );
    assert.equal(
      new Set(records.map((r) => r.partition)).size,
      1,
      'one partition per gateway: compaction keeps its latest',
    );
    const admin = new Kafka({ brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const cfg = await admin.describeConfigs({
        resources: [{ type: 2, name: STATUS_TOPIC, configNames: ['cleanup.policy'] }],
        includeSynonyms: false,
      });
      assert.equal(cfg.resources[0]!.configEntries[0]!.configValue, 'compact');
    } finally {
      await admin.disconnect();
    }
  });

  test('a state change is published at once, not at the next tick', async () => {
    // An interval of ten minutes: whatever arrives after the first status came from a change.
    const own = await startBroker();
    try {
      await gateway('hb-change', 600_000, own.url);
      await waitFor(
        'the source up in a status',
        async () => (await statuses('hb-change')).some((r) => r.value.sources[0]?.state === 'up'),
        60_000,
      );
      await own.stop();
      const down = await waitFor(
        'the source down in a status',
        async () => (await statuses('hb-change')).find((r) => r.value.sources[0]?.state === 'down'),
        60_000,
      );
      assert.equal(down?.value.running, true);
    } finally {
      await own.destroy();
    }
  });

  test('while Kafka is down no status piles up: afterwards the latest arrives, not a backlog', async () => {
    _steady ??= await gateway('hb-steady', 1000);
    const before = await statuses('hb-steady');
    const lastOffset = Math.max(...before.map((r) => r.offset));
    await kafka.kill();
    const down = Date.now();
    // Five heartbeat intervals without Kafka.
    await new Promise((r) => setTimeout(r, 5000));
    const restarting = Date.now();
    await kafka.start();
    const since = async () => (await statuses('hb-steady')).filter((x) => x.offset > lastOffset);
    await waitFor(
      'a heartbeat taken after Kafka came back',
      async () => (await since()).some((x) => x.value.ts > restarting),
      90_000,
    );
    // Statuses taken while the broker was certainly gone: a queue would deliver all five.
    const takenWhileDown = (await since()).filter((r) => r.value.ts > down && r.value.ts < restarting);
    assert.ok(
      takenWhileDown.length <= 1,
      `at most the attempt in flight when Kafka came back; got ${takenWhileDown.length}: ${takenWhileDown.map((r) => new Date(r.value.ts).toISOString()).join(', ')}`,
    );
  });

  test('SIGTERM: the last status says the gateway stopped', async () => {
    const g = await gateway('hb-bye', 1000);
    await waitFor('a first status', async () => (await statuses('hb-bye')).length > 0, 60_000);
    assert.equal(await g.stop(), 0);
    const last = (await statuses('hb-bye')).at(-1)!;
    assert.equal(last.value.running, false);
    assert.ok(
      last.value.sources.every((s: { state: string }) => s.state === 'stopped'),
      'taken after the sources stopped',
    );
  });
});
