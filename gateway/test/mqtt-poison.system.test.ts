/**
 * No MQTT message can stop intake: the payload that once killed the gateway for good
 * (`{"value":` + 5,000 `[` + 5,000 `]` + `}`), then 10,000 hostile messages (fuzzed: deep
 * nesting, huge numbers, NaN spellings, invalid UTF-8, random bytes) mixed into 50,000 valid
 * readings, through a real Mosquitto into the real gateway process and a real Kafka. The gateway
 * stays up (the same process throughout), counts every hostile message by reason, quarantines
 * each one, and all 50,000 valid readings arrive.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { KAFKA_VERSIONS, type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { compileTopicPattern, decodePayload } from '../../drivers/mqtt/payload.js';
import { poison, sampleHostile } from '../../drivers/test/support/hostile.js';
import { type Broker, startBroker } from '../../drivers/test/support/mosquitto.js';
import { type GatewayProcess, gatewayProcess, waitFor } from './support/gateway-process.js';
import { readTopic } from './support/kafka-reader.js';

const VALID = 50_000;
const HOSTILE = 10_000;
/** The default maxPayloadBytes: the poison (10 KB) is well under it. */
const MAX_PAYLOAD = 65536;
const PATTERN = 'p/{sensor}/{metric}';
const TOPIC = 'mqtt-poison';

let kafka: KafkaBroker;
let mosquitto: Broker;
let gw: GatewayProcess;
let client: MqttClient | undefined;

before(async () => {
  [kafka, mosquitto] = await Promise.all([startKafka({ version: KAFKA_VERSIONS.latest }), startBroker()]);
  gw = await gatewayProcess({
    gateway: { id: 'gw-poison' },
    kafka: { brokers: kafka.brokers, topic: TOPIC, statusTopic: `${TOPIC}.status` },
    buffer: { quarantineMaxRows: 20_000 },
    sources: [{ id: 'plant', driver: 'mqtt', url: mosquitto.url, topics: ['p/#'], topicPattern: PATTERN }],
  });
  await gw.start();
});
after(async () => {
  await client?.endAsync().catch(() => undefined);
  await gw?.dispose();
  await mosquitto?.destroy();
  await kafka?.destroy();
});

const rejectedByReason = async (): Promise<Record<string, number>> =>
  (await gw.status()).sources.find((s: { id: string }) => s.id === 'plant').rejectedByReason;

test('the poison payload, then 10,000 hostile messages among 50,000 readings: all counted and quarantined, all readings arrive', async () => {
  const started = await gw.metric('process_start_time_seconds');
  client = await mqtt.connectAsync(mosquitto.url, { clientId: 'poison-publisher', reconnectPeriod: 500 });

  // The poison first, on its own: the gateway must survive it and take the next reading.
  await client.publishAsync('p/pump-1/temp', poison(5000), { qos: 2 });
  await client.publishAsync('p/pump-1/temp', '21.5', { qos: 1 });
  await waitFor('the poison counted', async () => (await rejectedByReason()).too_deep === 1, 60_000);

  // Hostile messages: what the decoder refuses, each with the reason it gives.
  const names = compileTopicPattern(PATTERN);
  const hostile: Array<{ topic: string; payload: Buffer; reason: string }> = [];
  for (const bytes of sampleHostile(HOSTILE * 2, 14, 4000)) {
    if (hostile.length === HOSTILE) break;
    const topic = `p/h${hostile.length % 10}/x`;
    const d = decodePayload(bytes, names(topic)!, MAX_PAYLOAD);
    if (!d.ok) hostile.push({ topic, payload: Buffer.from(bytes), reason: d.rejection.reason });
  }
  assert.equal(hostile.length, HOSTILE);
  const expected: Record<string, number> = { too_deep: 1 };
  for (const h of hostile) expected[h.reason] = (expected[h.reason] ?? 0) + 1;

  // Five valid readings, then a hostile message (QoS 2, so that refusals complete that flow too).
  const window: Promise<unknown>[] = [];
  for (let i = 0; i < VALID; i++) {
    window.push(client.publishAsync(`p/s${i % 10}/v`, String(i), { qos: 1 }));
    if (i % 5 === 4) {
      const h = hostile[(i - 4) / 5]!;
      window.push(client.publishAsync(h.topic, h.payload, { qos: 2 }));
    }
    if (window.length >= 500) await Promise.all(window.splice(0));
  }
  await Promise.all(window);

  const values = await waitFor(
    'every valid reading in Kafka',
    async () => {
      const records = (await readTopic(kafka.brokers, TOPIC)).map((r) => r.value).filter((v) => /^s\d$/.test(v.sensor));
      const distinct = new Set(records.map((v) => v.value));
      return distinct.size === VALID ? distinct : undefined;
    },
    180_000,
  );
  assert.equal(values?.size, VALID);

  await waitFor(
    'every hostile message counted',
    async () => Object.values(await rejectedByReason()).reduce((a, b) => a + b, 0) === HOSTILE + 1,
    60_000,
  );
  assert.deepEqual(await rejectedByReason(), expected);
  assert.equal(await gw.metric('process_start_time_seconds'), started, 'the same gateway process throughout');

  const quarantined = (await gw.cli(['buffer', 'quarantine', '-n', '20000'])).stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const byReason: Record<string, number> = {};
  for (const q of quarantined) byReason[q.reason] = (byReason[q.reason] ?? 0) + 1;
  assert.deepEqual(byReason, expected, 'each hostile message quarantined with its reason');
  assert.equal(await gw.stop(), 0, 'SIGTERM exits 0');
});
