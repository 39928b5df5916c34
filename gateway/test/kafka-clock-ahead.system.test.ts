/**
 * A gateway whose clock is 3 days ahead of the broker's (libfaketime, as a Pi without a
 * real-time clock may be): Kafka refuses records stamped over an hour ahead on CreateTime topics,
 * so the topics the gateway creates use LogAppendTime, and every reading arrives, its own `ts`
 * (event time, the gateway's clock) untouched.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { type Broker, startBroker } from '../../drivers/test/support/mosquitto.js';
import { delivered, missing, mqttGateway } from './support/delivery-check.js';
import { libfaketime } from './support/faketime.js';
import { type GatewayProcess, waitFor } from './support/gateway-process.js';
import { readTopic } from './support/kafka-reader.js';
import { type Publisher, publisher } from './support/publisher.js';

const DAY = 24 * 3600_000;
let kafka: KafkaBroker;
let mqtt: Broker;
let g: GatewayProcess | undefined;
let pub: Publisher | undefined;
before(async () => {
  [kafka, mqtt] = await Promise.all([startKafka(), startBroker()]);
});
after(async () => {
  await pub?.close();
  await g?.dispose();
  await mqtt?.destroy();
  await kafka?.destroy();
});

test('the gateway 3 days ahead of the broker delivers every reading', async () => {
  g = await mqttGateway('clock-ahead', mqtt, { brokers: kafka.brokers });
  await g.start({ LD_PRELOAD: libfaketime(), FAKETIME: '+3d' });
  pub = await publisher(mqtt.url, 5, 'clock-ahead');
  await pub.publish(400);
  await waitFor(
    'every reading in Kafka',
    async () => missing(pub!.next, (await delivered(kafka.brokers, 'clock-ahead')).readings).length === 0,
    90_000,
  ).catch((err) => {
    throw new Error(`${err.message}\n${g!.logTail()}`);
  });
  const records = await readTopic(kafka.brokers, 'clock-ahead');
  // The reading's time is the gateway's (3 days ahead): the clock really was faked.
  assert.ok(
    records.every((r) => r.value.ts > Date.now() + 2 * DAY),
    'event time as the gateway saw it',
  );
  assert.equal(await g.metric('sensorgate_readings_dropped_total'), 0);
});
