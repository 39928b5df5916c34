/**
 * A gateway's whole data dir lost (an SD card replaced or wiped: buffer and seq reservation gone),
 * with a real Kafka, real Mosquitto and a real `sensorgate run`, in both delivery modes: readings
 * delivered, the gateway stopped, its data dir deleted, the gateway started again while Kafka is
 * down and fed more readings, which the fresh buffer numbers from seq 1 again. Once Kafka is
 * back, every reading must be in Kafka and no seq may name two readings (docs/reference/delivery.md):
 * the fresh buffer's readings are renumbered above what Kafka already has, not deleted as
 * "already committed" (exactly-once) nor left to collide with old seqs (at-least-once).
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { type Broker, startBroker } from '../../drivers/test/support/mosquitto.js';
import { delivered, missing, mqttGateway } from './support/delivery-check.js';
import { type GatewayProcess, waitFor } from './support/gateway-process.js';
import { type Publisher, publisher } from './support/publisher.js';

const SENSORS = 3;
const BEFORE = 20; // per sensor, delivered from the old data dir
const AFTER = 15; // per sensor, taken in by the fresh buffer while Kafka is down

describe('a data dir lost whole', { concurrency: false }, () => {
  let kafka: KafkaBroker;
  let mqtt: Broker;
  const gateways: GatewayProcess[] = [];
  const publishers: Publisher[] = [];
  before(async () => {
    [kafka, mqtt] = await Promise.all([startKafka({ version: 'latest' }), startBroker()]);
  });
  after(async () => {
    for (const p of publishers) await p.close().catch(() => undefined);
    for (const g of gateways) await g.dispose();
    await mqtt?.destroy();
    await kafka?.destroy();
  });

  for (const delivery of ['exactly-once', 'at-least-once']) {
    test(`${delivery}: readings of the fresh buffer are renumbered above what Kafka has; all arrive, no seq names two`, async () => {
      const name = `lostdir${delivery.replace(/-/g, '')}`;
      const readCommitted = delivery === 'exactly-once';
      const g = await mqttGateway(name, mqtt, { brokers: kafka.brokers, delivery });
      gateways.push(g);
      const pub = await publisher(mqtt.url, SENSORS, name);
      publishers.push(pub);
      await g.start();
      await waitFor('the gateway connected to Kafka', async () => (await g.status()).uplink.connected, 60_000);
      await pub.publish(BEFORE);
      await waitFor(
        'the first readings in Kafka',
        async () => missing(pub.next, (await delivered(kafka.brokers, name, readCommitted)).readings).length === 0,
        60_000,
      );
      const oldSeqs = (await delivered(kafka.brokers, name, readCommitted)).seqs;
      assert.equal(await g.stop(), 0);

      rmSync(join(g.dir, 'data'), { recursive: true });
      await kafka.kill();
      await g.start();
      await pub.publish(AFTER);
      const fresh = await waitFor(
        'the fresh buffer holding the new readings',
        async () => {
          const s = await g.status();
          return s.buffer.depth === AFTER * SENSORS ? s : undefined;
        },
        30_000,
      );
      assert.equal(fresh.buffer.nextSeq, AFTER * SENSORS + 1, 'the fresh buffer numbered them from 1: seqs Kafka has');

      await kafka.start();
      const got = (await waitFor(
        'every reading in Kafka',
        async () => {
          const d = await delivered(kafka.brokers, name, readCommitted);
          return missing(pub.next, d.readings).length === 0 ? d : undefined;
        },
        90_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${g.logTail()}`);
      }))!;

      const readingOf = new Map<number, string>();
      got.seqs.forEach((seq, i) => {
        const seen = readingOf.get(seq);
        assert.ok(seen === undefined || seen === got.readings[i], `seq ${seq} names ${seen} and ${got.readings[i]}`);
        readingOf.set(seq, got.readings[i]!);
      });
      if (readCommitted) assert.equal(got.seqs.length, (BEFORE + AFTER) * SENSORS, 'read_committed: each reading once');
      const newSeqs = got.seqs.filter((s) => !oldSeqs.includes(s));
      assert.equal(newSeqs.length, AFTER * SENSORS);
      assert.ok(Math.min(...newSeqs) > Math.max(...oldSeqs), 'the new readings follow the old ones');

      const log = readFileSync(join(g.dir, 'logs', 'run-2.log'), 'utf8');
      assert.match(
        log,
        new RegExp(
          `fresh buffer: seqs continue after \\d+, which Kafka already has for this gateway; ${AFTER * SENSORS} buffered readings renumbered`,
        ),
      );
      await g.stop();
    });
  }
});
