/**
 * Acceptance of the core promise (docs/reference/delivery.md) against a real Kafka broker and a real Mosquitto,
 * with the real `sensorgate run` process. Defined once, run per Kafka version.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { durabilityRig, type Rig } from './support/durability-rig.js';
import { waitFor } from './support/gateway-process.js';
import { assertSeqsUnique, bySensor, type KafkaRecord } from './support/kafka-reader.js';

/**
 * Every value 0..n-1 of every sensor is in Kafka, and each sensor's readings are in order.
 * Duplicates are allowed (at-least-once) but must be true duplicates: a seq always names the
 * same reading. Returns how many records were duplicates.
 */
function assertComplete(records: KafkaRecord[], gateway: string, published: number[]): number {
  assertSeqsUnique(records);
  for (const r of records) assert.equal(r.value.gateway, gateway);
  const sensors = bySensor(records);
  let duplicates = 0;
  published.forEach((n, s) => {
    const list = sensors.get(`s${s}`) ?? [];
    const values = list.map((r) => r.value.value as number);
    // In order: the first occurrences of values are 0, 1, 2, …; a redelivery may repeat a suffix.
    const firsts = values.filter((v, i) => values.indexOf(v) === i);
    assert.equal(firsts.length, n, `sensor s${s}: ${firsts.length} distinct of ${n} published`);
    for (const [i, v] of firsts.entries()) assert.equal(v, i, `sensor s${s}: value ${i} out of order`);
    duplicates += values.length - firsts.length;
  });
  return duplicates;
}

export function storeAndForwardSuite(kafkaVersion: string): void {
  describe(`store and forward, Kafka ${kafkaVersion}`, { concurrency: false }, () => {
    let rig: Rig;
    before(async () => {
      rig = await durabilityRig(kafkaVersion);
    });
    after(async () => {
      await rig?.close();
    });

    test('50k readings over MQTT reach Kafka with the contract key, value and headers, each sensor in order', async () => {
      const { g, id, topic, prefix } = await rig.newGateway();
      await g.start();
      const pub = await rig.publisher(prefix, 10);
      await pub.publish(5000);
      await waitFor('50k sent', async () => (await g.metric('sensorgate_readings_sent_total')) >= 50_000);
      const records = await rig.records(topic);
      assert.equal(records.length, 50_000, 'exactly once per reading without faults');
      assert.equal(assertComplete(records, id, pub.next), 0);
      const seqs = records.map((r) => r.value.seq).sort((a, b) => a - b);
      assert.deepEqual([seqs[0], seqs.at(-1)], [1, 50_000], 'seq is dense from 1');
      for (const r of records) {
        assert.equal(r.key, `${id}/${r.value.sensor}`);
        assert.deepEqual(r.headers, {
          'sg-gateway': id,
          'sg-seq': String(r.value.seq),
          'sg-schema': 'reading/1',
          'content-type': 'application/json',
        });
      }
      const v = records[0]!.value;
      assert.deepEqual(Object.keys(v), [
        'gateway',
        'source',
        'sensor',
        'metric',
        'value',
        'unit',
        'ts',
        'seq',
        'bootId',
        'clockSynced',
      ]);
      assert.equal(v.source, 'plant');
      assert.equal(v.metric, 'count');
      assert.equal(v.unit, 'n');
      assert.equal(typeof v.bootId, 'string');
      // Each sensor's key maps to exactly one partition.
      for (const [, list] of bySensor(records)) assert.equal(new Set(list.map((r) => r.partition)).size, 1);
      const stats = JSON.parse((await g.cli(['buffer', 'stats'])).stdout);
      assert.deepEqual(stats, { depth: 0, bytes: 0, oldestTs: null, nextSeq: 50_001 });
      assert.equal(await g.stop(), 0, 'SIGTERM exits 0');
      await pub.close();
    });

    test('Kafka down for 20 s mid-stream: nothing lost, the backlog drains', async () => {
      const { g, id, topic, prefix } = await rig.newGateway();
      await g.start();
      const pub = await rig.publisher(prefix, 5);
      await pub.publish(400, 1000);
      await waitFor('first readings sent', async () => (await g.metric('sensorgate_readings_sent_total')) > 0);
      await rig.kafka.stop();
      const outage = Date.now();
      await pub.publish(3000, 1000); // ~15 s of readings while Kafka is down
      await waitFor('uplink marked down', async () => (await g.metric('sensorgate_uplink_connected')) === 0);
      assert.ok((await g.metric('sensorgate_buffer_depth')) > 0, 'readings wait in the buffer');
      await new Promise((r) => setTimeout(r, Math.max(0, 20_000 - (Date.now() - outage))));
      await rig.kafka.start();
      await pub.publish(400, 1000);
      const total = pub.next.reduce((a, b) => a + b, 0);
      let seen = '';
      await waitFor(
        'backlog drained',
        async () => {
          const [depth, ingested] = [
            await g.metric('sensorgate_buffer_depth'),
            await g.metric('sensorgate_readings_ingested_total'),
          ];
          const status = await g.status();
          seen = `depth ${depth}, ingested ${ingested} of ${total}, uplink ${JSON.stringify(status.uplink)}, sources ${JSON.stringify(status.sources)}`;
          return depth === 0 && ingested === total;
        },
        180_000,
      ).catch(async (err: Error) => {
        // Where the missing readings went missing: which values Kafka lacks, and what the broker
        // saw of the gateway's session (connects, disconnects, dropped messages).
        const inKafka = bySensor(await rig.records(topic));
        const missing = pub.next.map((n, s) => {
          const have = new Set((inKafka.get(`s${s}`) ?? []).map((r) => r.value.value as number));
          return `s${s}: ${Array.from({ length: n }, (_, v) => v)
            .filter((v) => !have.has(v))
            .slice(0, 50)
            .join(',')}`;
        });
        throw new Error(
          `${err.message}: ${seen}\nmissing in Kafka: ${missing.join('; ')}\nmosquitto: ${rig.mosquitto.logLines(`sensorgate-${id}-`).join('\n')}\n${g.logTail()}`,
        );
      });
      assert.equal(await g.metric('sensorgate_uplink_connected'), 1);
      assertComplete(await rig.records(topic), id, pub.next);
      const status = await g.status();
      assert.equal(status.uplink.connected, true);
      assert.ok(status.uplink.lastError, 'the outage left its last error in the status');
      await g.stop();
      await pub.close();
    });

    test('SIGKILL mid-stream while publishing goes on, then restart: nothing lost', async () => {
      const { g, id, topic, prefix } = await rig.newGateway();
      await g.start();
      const pub = await rig.publisher(prefix, 5);
      const streaming = pub.publish(3000, 1500);
      await waitFor('some readings in', async () => (await g.metric('sensorgate_readings_ingested_total')) > 2000);
      await g.kill();
      await new Promise((r) => setTimeout(r, 3000)); // publishing goes on; the broker queues for our session
      await g.start();
      await streaming;
      const total = pub.next.reduce((a, b) => a + b, 0);
      await waitFor(
        'everything in Kafka',
        async () => {
          const records = await rig.records(topic);
          return new Set(records.map((r) => `${r.value.sensor}/${r.value.value}`)).size === total;
        },
        180_000,
      );
      // Duplicates are allowed here (sent but not yet deleted at the kill: same seq; or
      // redelivered by the broker because the PUBACK was withheld: new seq); losses are not.
      assertComplete(await rig.records(topic), id, pub.next);
      await g.stop();
      await pub.close();
    });

    test('buffer at its cap with Kafka down: the policy applies, drops are counted, the gateway runs on', async () => {
      // 2,000 readings, stored compressed (about 20 bytes each): more than twice the cap.
      const cap = 16 * 1024;
      const oldest = await rig.newGateway({ buffer: { maxBytes: cap, whenFull: 'drop-oldest' } });
      const newest = await rig.newGateway({ buffer: { maxBytes: cap, whenFull: 'reject-new' } });
      await oldest.g.start();
      await newest.g.start();
      await waitFor(
        'uplinks connected',
        async () =>
          (await oldest.g.metric('sensorgate_uplink_connected')) === 1 &&
          (await newest.g.metric('sensorgate_uplink_connected')) === 1,
      );
      await rig.kafka.stop();
      const pubs = await Promise.all([rig.publisher(oldest.prefix, 2), rig.publisher(newest.prefix, 2)]);
      await Promise.all(pubs.map((p) => p.publish(1000)));
      for (const [gw, reason] of [
        [oldest.g, 'drop_oldest'],
        [newest.g, 'reject_new'],
      ] as const) {
        await waitFor(
          `${reason} counted`,
          async () => (await gw.metric('sensorgate_readings_dropped_total', { reason })) > 0,
        );
        assert.ok((await gw.metric('sensorgate_buffer_bytes')) <= cap);
        assert.ok((await fetch(`${gw.statusUrl}/healthz`)).ok, 'still running');
      }
      await rig.kafka.start();
      for (const [{ g, topic }, reason] of [
        [oldest, 'drop_oldest'],
        [newest, 'reject_new'],
      ] as const) {
        await waitFor('buffer drained', async () => (await g.metric('sensorgate_buffer_depth')) === 0, 120_000);
        const records = await rig.records(topic);
        const dropped = await g.metric('sensorgate_readings_dropped_total', { reason });
        assert.equal(
          records.length + dropped,
          2000,
          `${reason}: every reading is either in Kafka or counted as dropped`,
        );
        const values = bySensor(records)
          .get('s0')!
          .map((r) => r.value.value);
        if (reason === 'drop_oldest') assert.equal(values.at(-1), 999, 'the newest reading survived');
        else assert.equal(values[0], 0, 'the oldest reading survived');
        await g.stop();
      }
      for (const p of pubs) await p.close();
    });

    test('invalid JSON, NaN, strings and a 1 MB payload are rejected by reason and quarantined; valid readings flow', async () => {
      const { g, id, topic, prefix } = await rig.newGateway();
      await g.start();
      const pub = await rig.publisher(prefix, 1);
      const bad: Array<[string, string | Buffer]> = [
        ['invalid_json', '{"value": 21.5'],
        ['not_a_number', 'NaN'],
        ['not_a_number', '"hot"'],
        ['not_a_number', '{"value": "21.5"}'],
        ['too_large', Buffer.alloc(1024 * 1024, 0x37)],
      ];
      for (const [, payload] of bad) {
        await pub.publish(10);
        await pub.raw(`${prefix}/s0/count`, payload);
      }
      await pub.publish(10);
      await waitFor('valid readings sent', async () => (await g.metric('sensorgate_readings_sent_total')) === 60);
      assert.equal(
        await g.metric('sensorgate_readings_rejected_total', { source: 'plant', reason: 'invalid_json' }),
        1,
      );
      assert.equal(
        await g.metric('sensorgate_readings_rejected_total', { source: 'plant', reason: 'not_a_number' }),
        3,
      );
      assert.equal(await g.metric('sensorgate_readings_rejected_total', { source: 'plant', reason: 'too_large' }), 1);
      assertComplete(await rig.records(topic), id, pub.next);
      const quarantine = (await g.cli(['buffer', 'quarantine'])).stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(quarantine.map((q) => q.reason).sort(), bad.map(([r]) => r).sort());
      assert.ok(
        quarantine.every((q) => q.source === 'plant' && typeof q.payload === 'string' && q.payload.length <= 1024),
      );
      const status = await g.status();
      assert.deepEqual(status.sources[0].rejectedByReason, { invalid_json: 1, not_a_number: 3, too_large: 1 });
      await g.stop();
      await pub.close();
    });
  });
}
