/**
 * Exactly-once across crashes (docs/reference/delivery.md), with the real gateway process, real Mosquitto and a real
 * Kafka: readings stream in while the gateway is SIGKILLed at random moments and once
 * deliberately between the Kafka commit and the local delete. A read_committed consumer must see
 * every reading and no (gateway, seq) twice. The same scenario in at-least-once mode shows the
 * duplicates that mode allows.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { seeded } from '../../firmware-sim/random.js';
import { durabilityRig, type Rig } from './support/durability-rig.js';
import { waitFor } from './support/gateway-process.js';
import { readTopic } from './support/kafka-reader.js';

async function readCommitted(brokers: string[], topic: string): Promise<Array<{ seq: number; reading: string }>> {
  const records = await readTopic(brokers, topic, { readCommitted: true });
  return records.map((r) => ({ seq: r.value.seq, reading: `${r.value.sensor}/${r.value.value}` }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function exactlyOnceSuite(kafkaVersion: string): void {
  describe(`delivery across crashes, Kafka ${kafkaVersion}`, { concurrency: false }, () => {
    let rig: Rig;
    before(async () => {
      rig = await durabilityRig(kafkaVersion);
    });
    after(async () => {
      await rig?.close();
    });

    /** Stream readings while crashing the gateway; returns what Kafka holds and what was published. */
    async function crashScenario(delivery: string, randomKills: number) {
      // The failpoint run exits after its third send, maybe before its source is up: start() does
      // not wait for sources. The first run must be subscribed before anything is published, or the
      // broker drops it; later runs resume the same MQTT session, which the broker keeps filling.
      const { g, topic, prefix } = await rig.newGateway({
        kafka: { delivery, batchMaxRecords: 200 },
        awaitSources: false,
      });
      await g.start();
      await waitFor('the MQTT source subscribed', async () =>
        (await g.status()).sources.every((s: { state: string }) => s.state === 'up'),
      );
      const pub = await rig.publisher(prefix, 5);
      let publishing = true;
      const stream = (async () => {
        while (publishing) await pub.publish(100, 1000);
      })();
      const random = seeded(7);
      for (let i = 0; i < randomKills; i++) {
        await sleep(1000 + random.next() * 2500);
        await g.kill();
        await sleep(random.next() * 1000);
        await g.start();
      }
      // Deliberately between the Kafka commit (or ack) and the local delete.
      await sleep(1000);
      await g.kill();
      await g.start({ SENSORGATE_FAILPOINT: 'after-send:3' });
      assert.equal(await g.exited(), null, 'the failpoint killed the gateway');
      await g.start();
      await sleep(1500);
      publishing = false;
      await stream;
      const total = pub.next.reduce((a, b) => a + b, 0);
      const records = (await waitFor(
        'every reading in Kafka',
        async () => {
          const r = await readCommitted(rig.kafka.brokers, topic);
          return new Set(r.map((x) => x.reading)).size === total ? r : undefined;
        },
        180_000,
      ))!;
      await g.stop();
      await pub.close();
      return { records, total };
    }

    test('exactly-once: SIGKILL 5 times at random and once between commit and delete; read_committed sees every reading, no seq twice', async (t) => {
      const { records, total } = await crashScenario('exactly-once', 5);
      const seqs = records.map((r) => r.seq);
      assert.equal(new Set(seqs).size, seqs.length, `${seqs.length - new Set(seqs).size} (gateway, seq) duplicates`);
      assert.equal(new Set(records.map((r) => r.reading)).size, total);
      // What may remain is an MQTT redelivery: the same reading taken in twice, under two seqs,
      // when a PUBACK was lost in a crash after the commit. It is rare; report it.
      t.diagnostic(`${records.length} records for ${total} readings (MQTT redeliveries: ${records.length - total})`);
    });

    test('at-least-once: the same crashes produce duplicates, each with the same (gateway, seq)', async () => {
      const { records, total } = await crashScenario('at-least-once', 2);
      const bySeq = new Map<number, Set<string>>();
      for (const r of records) bySeq.set(r.seq, (bySeq.get(r.seq) ?? new Set()).add(r.reading));
      const duplicates = records.length - bySeq.size;
      assert.ok(duplicates > 0, 'the kill between ack and delete resends a batch');
      for (const [seq, readings] of bySeq) assert.equal(readings.size, 1, `seq ${seq} names one reading`);
      assert.equal(new Set(records.map((r) => r.reading)).size, total);
    });
  });
}
