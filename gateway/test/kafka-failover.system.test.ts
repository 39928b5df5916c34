/**
 * The delivery promise on a replicated cluster (one KRaft controller, three brokers, replication
 * factor 3, min.insync.replicas 2), with real gateway processes fed over MQTT:
 * - partition leaders SIGKILLed four times (each broker restarted) while 30,000 readings stream
 *   into an at-least-once and an exactly-once gateway: nothing missing; read_committed sees no
 *   reading twice;
 * - a rolling restart (SIGTERM each broker in turn): nothing missing;
 * - two of three brokers down (below min.insync.replicas): readings stay buffered, nothing is
 *   acknowledged or dropped, and everything arrives once the brokers return.
 * It also measures the longest delivery stall around a failover and Kafka's own failover time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { type KafkaCluster, startKafkaCluster } from '../../deploy/kafka/cluster.js';
import { type Broker, startBroker } from '../../drivers/test/support/mosquitto.js';
import { KafkaUplink, TransactionalKafkaUplink } from '../uplink/kafka-uplink.js';
import { Kafka, logLevel } from '../uplink/kafkajs.js';
import { PlatformaticUplink } from '../uplink/platformatic-uplink.js';
import { delivered, missing, mqttGateway } from './support/delivery-check.js';
import { type GatewayProcess, waitFor } from './support/gateway-process.js';
import { type Publisher, publisher } from './support/publisher.js';
import { contractKafkaConfig, uplinkFailoverContract } from './uplink-contract.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a replicated Kafka cluster', { concurrency: false }, () => {
  let cluster: KafkaCluster;
  let mqtt: Broker;
  const gateways: GatewayProcess[] = [];
  const publishers: Publisher[] = [];
  before(async () => {
    [cluster, mqtt] = await Promise.all([startKafkaCluster(), startBroker()]);
  });
  after(async () => {
    for (const p of publishers) await p.close().catch(() => undefined);
    for (const g of gateways) await g.dispose();
    await mqtt?.destroy();
    await cluster?.destroy();
  });

  // The default compression (lz4), as a gateway sends by default.
  const uplinkConfig = (brokers: string[], topic: string, delivery: string, client = 'kafkajs') =>
    contractKafkaConfig(brokers, topic, { delivery, client, compression: 'lz4' });
  const silent = pino({ level: 'silent' });
  uplinkFailoverContract(
    'kafkajs',
    (brokers, topic) => new KafkaUplink(uplinkConfig(brokers, topic, 'at-least-once'), 'gw-contract', silent),
    () => cluster,
  );
  uplinkFailoverContract(
    'platformatic',
    (brokers, topic) =>
      new PlatformaticUplink(uplinkConfig(brokers, topic, 'at-least-once', 'platformatic'), 'gw-contract', silent),
    () => cluster,
  );
  uplinkFailoverContract(
    'kafkajs-transactional',
    (brokers, topic) =>
      new TransactionalKafkaUplink(uplinkConfig(brokers, topic, 'exactly-once'), 'gw-contract', silent),
    () => cluster,
  );

  async function scenario(name: string, kafka: Record<string, unknown>) {
    const g = await mqttGateway(name, mqtt, { brokers: cluster.brokers, ...kafka });
    gateways.push(g);
    await g.start();
    const pub = await publisher(mqtt.url, 10, name);
    publishers.push(pub);
    return { g, pub };
  }

  /** Per gateway, the longest time (ms) with readings waiting and none acknowledged, sampled until `until` settles. */
  async function longestStall(gws: GatewayProcess[], until: Promise<unknown>): Promise<number[]> {
    let done = false;
    void until.finally(() => {
      done = true;
    });
    const last = gws.map(() => ({ sent: -1, since: Date.now() }));
    const worst = gws.map(() => 0);
    while (!done) {
      await Promise.all(
        gws.map(async (g, i) => {
          const [sent, depth] = await Promise.all([
            g.metric('sensorgate_readings_sent_total'),
            g.metric('sensorgate_buffer_depth'),
          ]).catch(() => [last[i]!.sent, 1]);
          const now = Date.now();
          if (sent !== last[i]!.sent || depth === 0) last[i] = { sent: sent!, since: now };
          worst[i] = Math.max(worst[i]!, now - last[i]!.since);
        }),
      );
      await sleep(200);
    }
    return worst;
  }

  test('leaders SIGKILLed 4 times while 30,000 readings stream in: nothing missing; exactly-once: no duplicates', async (t) => {
    const alo = await scenario('failover-alo', { delivery: 'at-least-once' });
    const eos = await scenario('failover-eos', { delivery: 'exactly-once' });
    // Topics the gateway creates on this cluster get the replication it offers and min.insync.replicas 2.
    const admin = new Kafka({ brokers: cluster.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const cfg = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2, name: 'failover-alo', configNames: ['min.insync.replicas', 'message.timestamp.type'] }],
    });
    await admin.disconnect();
    assert.deepEqual(Object.fromEntries(cfg.resources[0]!.configEntries.map((e) => [e.configName, e.configValue])), {
      'min.insync.replicas': '2',
      'message.timestamp.type': 'LogAppendTime',
    });
    assert.deepEqual((await cluster.isr('failover-alo', 0)).length, 3);

    // 30,000 readings each at 350/s: about as long as the four failovers take.
    const streams = Promise.all([alo.pub.publish(3000, 350), eos.pub.publish(3000, 350)]);
    const kills = (async () => {
      const failovers: number[] = [];
      for (let i = 0; i < 4; i++) {
        await sleep(3000);
        const leader = await cluster.leaderOf('failover-alo', i % 3);
        const t0 = Date.now();
        await cluster.kill(leader);
        await waitFor(
          'a new leader',
          async () => {
            const l = await cluster.leaderOf('failover-alo', i % 3);
            return l !== leader && l >= 0;
          },
          60_000,
        );
        failovers.push(Date.now() - t0);
        await cluster.restart(leader);
        await waitFor(
          'replicas back in sync',
          async () => (await cluster.isr('failover-alo', i % 3)).length === 3,
          60_000,
        );
      }
      return failovers;
    })();
    const [stall, failovers] = await Promise.all([
      longestStall([alo.g, eos.g], Promise.all([streams, kills])),
      kills,
      streams,
    ]);
    t.diagnostic(`Kafka's own failover (leader killed -> new leader in metadata), ms: ${failovers.join(', ')}`);
    t.diagnostic(
      `longest delivery stall: at-least-once ${(stall[0]! / 1000).toFixed(1)} s, exactly-once ${(stall[1]! / 1000).toFixed(1)} s`,
    );

    await waitFor(
      'every reading in Kafka (at-least-once)',
      async () => missing(alo.pub.next, (await delivered(cluster.brokers, 'failover-alo')).readings).length === 0,
      180_000,
    ).catch(async (err) => {
      throw new Error(
        `${err.message}; missing ${missing(alo.pub.next, (await delivered(cluster.brokers, 'failover-alo')).readings).length}\n${alo.g.logTail()}`,
      );
    });
    await waitFor(
      'every reading committed (exactly-once)',
      async () => missing(eos.pub.next, (await delivered(cluster.brokers, 'failover-eos', true)).readings).length === 0,
      180_000,
    ).catch(async (err) => {
      throw new Error(
        `${err.message}; missing ${missing(eos.pub.next, (await delivered(cluster.brokers, 'failover-eos', true)).readings).length}\n${eos.g.logTail()}`,
      );
    });
    const committed = await delivered(cluster.brokers, 'failover-eos', true);
    assert.equal(new Set(committed.seqs).size, committed.seqs.length, 'no (gateway, seq) twice under read_committed');
    assert.equal(committed.readings.length, 30_000, 'each reading exactly once');
    await alo.g.stop();
    await eos.g.stop();
  });

  test('rolling restart (SIGTERM each broker in turn): nothing missing', async () => {
    const { g, pub } = await scenario('rolling', {});
    const stream = pub.publish(1000, 250);
    for (const id of cluster.nodeIds) {
      await cluster.terminate(id);
      await cluster.restart(id);
      await waitFor(
        'replicas back in sync',
        async () =>
          (await Promise.all([0, 1, 2].map((p) => cluster.isr('rolling', p)))).every((isr) => isr.length === 3),
        60_000,
      );
    }
    await stream;
    await waitFor(
      'every reading in Kafka',
      async () => missing(pub.next, (await delivered(cluster.brokers, 'rolling')).readings).length === 0,
      180_000,
    );
    await g.stop();
  });

  test('2 of 3 brokers down: readings stay buffered, none acknowledged or dropped; all arrive after the brokers return', async () => {
    const { g, pub } = await scenario('below-min-isr', {});
    await pub.publish(50);
    await waitFor(
      'first readings delivered',
      async () => (await g.metric('sensorgate_readings_sent_total')) === 500,
      60_000,
    );
    await Promise.all([cluster.kill(2), cluster.kill(3)]);
    try {
      await pub.publish(200);
      await waitFor(
        'readings taken in',
        async () => (await g.metric('sensorgate_readings_ingested_total')) === 2500,
        60_000,
      );
      // Down (a send failed) or stalled (20 s without an acknowledgement while a backlog waits).
      await waitFor(
        'the status says the uplink is down or stalled',
        async () =>
          (await g.status()).problems.some(
            (p: { code: string }) => p.code === 'uplink_down' || p.code === 'uplink_stalled',
          ),
        60_000,
      );
      assert.equal(
        await g.metric('sensorgate_readings_sent_total'),
        500,
        'nothing acknowledged below min.insync.replicas',
      );
      assert.equal(await g.metric('sensorgate_buffer_depth'), 2000, 'all of it buffered');
      assert.equal(await g.metric('sensorgate_readings_dropped_total'), 0);
    } finally {
      await Promise.all([cluster.restart(2), cluster.restart(3)]);
    }
    await waitFor('buffer drained', async () => (await g.metric('sensorgate_buffer_depth')) === 0, 180_000);
    assert.deepEqual(missing(pub.next, (await delivered(cluster.brokers, 'below-min-isr')).readings), []);
    await g.stop();
  });
});
