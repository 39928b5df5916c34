/**
 * Exactly once from the plant's MQTT broker to Kafka: QoS 2 readings stream in while the real
 * gateway process is SIGKILLed again and again, with `delivery: exactly-once`. A read_committed
 * consumer must see every published reading once (identified by its payload, so an MQTT
 * redelivery taken in as a new reading would show) and no (gateway, seq) twice.
 *
 * 100,000 readings and 20 kills by default (about 90 s here); SG_QOS2_READINGS and SG_QOS2_KILLS
 * change them.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { KAFKA_VERSIONS, type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { type Broker, startBroker } from '../../drivers/test/support/mosquitto.js';
import { seeded } from '../../firmware-sim/random.js';
import { type GatewayProcess, gatewayProcess, waitFor } from './support/gateway-process.js';
import { readTopic } from './support/kafka-reader.js';
import { publisher as openPublisher, type Publisher } from './support/publisher.js';

const READINGS = Number(process.env.SG_QOS2_READINGS ?? 100_000);
const KILLS = Number(process.env.SG_QOS2_KILLS ?? 20);
const SENSORS = 10;
const TOPIC = 'qos2-crash';

let kafka: KafkaBroker;
let mosquitto: Broker;
let gw: GatewayProcess | undefined;
let pub: Publisher | undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  [kafka, mosquitto] = await Promise.all([startKafka({ version: KAFKA_VERSIONS.latest }), startBroker()]);
});
after(async () => {
  await pub?.close().catch(() => undefined);
  await gw?.dispose();
  await mosquitto?.destroy();
  await kafka?.destroy();
});

test(`${KILLS} SIGKILLs during ${READINGS} QoS 2 readings with delivery exactly-once: read_committed sees each reading once`, async (t) => {
  gw = await gatewayProcess({
    gateway: { id: 'gw-qos2' },
    kafka: {
      brokers: kafka.brokers,
      delivery: 'exactly-once',
      topic: TOPIC,
      statusTopic: `${TOPIC}.status`,
      offsetsTopic: `${TOPIC}.offsets`,
      partitions: 3,
    },
    sources: [
      {
        id: 'plant',
        driver: 'mqtt',
        url: mosquitto.url,
        topics: ['q2/#'],
        topicPattern: 'q2/{sensor}/{metric}',
        qos: 2,
      },
    ],
  });
  await gw.start();
  pub = await openPublisher(mosquitto.url, SENSORS, 'q2', 2);
  // Spread the readings over the kills, so that every kill lands in the middle of the flow.
  const publishing = pub.publish(READINGS / SENSORS, READINGS / (KILLS * 3));
  const random = seeded(14);
  for (let i = 0; i < KILLS; i++) {
    await sleep(1000 + random.next() * 2500);
    await gw.kill();
    await sleep(random.next() * 1000);
    await gw.start();
  }
  await publishing;
  const key = (v: any) => `${v.sensor}/${v.value}`;
  let seen = 0;
  await waitFor(
    'every reading in Kafka',
    async () => {
      seen = new Set((await readTopic(kafka.brokers, TOPIC, { readCommitted: true })).map((r) => key(r.value))).size;
      return seen === READINGS;
    },
    240_000,
  ).catch(async (err: Error) => {
    throw new Error(
      `${err.message}: ${seen} of ${READINGS}; status ${JSON.stringify((await gw!.status()).sources)}\n${gw!.logTail(20)}`,
    );
  });
  assert.equal(await gw.stop(), 0, 'SIGTERM exits 0');
  const records = (await readTopic(kafka.brokers, TOPIC, { readCommitted: true })).map((r) => r.value);
  const seqs = new Set(records.map((v) => v.seq));
  const readings = new Set(records.map(key));
  t.diagnostic(
    `${records.length} records, ${readings.size} distinct readings, ${seqs.size} distinct seqs for ${READINGS} published`,
  );
  assert.equal(readings.size, READINGS, 'every published reading arrived');
  assert.equal(records.length - seqs.size, 0, 'duplicate (gateway, seq)');
  assert.equal(records.length - readings.size, 0, 'readings taken in twice (MQTT redeliveries)');
});
