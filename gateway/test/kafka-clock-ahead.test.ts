/**
 * A gateway whose clock is 3 days ahead of the broker's (libfaketime, as a Pi without a
 * real-time clock may be): Kafka refuses records stamped over an hour ahead on CreateTime topics,
 * so the topics the gateway creates use LogAppendTime, and every reading arrives, its own `ts`
 * (event time, the gateway's clock) untouched.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startKafka, type KafkaBroker } from '../../deploy/kafka/launcher.js';
import { startBroker, type Broker } from '../../drivers/test/support/mosquitto.js';
import { waitFor, type GatewayProcess } from './support/gateway-process.js';
import { mqttGateway, delivered, missing } from './support/delivery-check.js';
import { publisher, type Publisher } from './support/publisher.js';
import { readTopic } from './support/kafka-reader.js';

const DAY = 24 * 3600_000;
let kafka: KafkaBroker;
let mqtt: Broker;
let g: GatewayProcess | undefined;
let pub: Publisher | undefined;
before(async () => { [kafka, mqtt] = await Promise.all([startKafka(), startBroker()]); });
after(async () => {
  await pub?.close();
  await g?.dispose();
  await mqtt?.destroy();
  await kafka?.destroy();
});

test('the gateway 3 days ahead of the broker delivers every reading', async () => {
  g = await mqttGateway('clock-ahead', mqtt, { brokers: kafka.brokers });
  await g.start({}, ['faketime', '-f', '+3d']);
  pub = await publisher(mqtt.url, 5, 'clock-ahead');
  await pub.publish(400);
  await waitFor('every reading in Kafka', async () => missing(pub!.next, (await delivered(kafka.brokers, 'clock-ahead')).readings).length === 0, 90_000)
    .catch((err) => { throw new Error(`${err.message}\n${g!.logTail()}`); });
  const records = await readTopic(kafka.brokers, 'clock-ahead');
  // The reading's time is the gateway's (3 days ahead): the clock really was faked.
  assert.ok(records.every((r) => r.value.ts > Date.now() + 2 * DAY), 'event time as the gateway saw it');
  assert.equal((await g.metric('sensorgate_readings_dropped_total')), 0);
});
