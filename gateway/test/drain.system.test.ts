/**
 * How a backlog drains after a Kafka outage, with a real broker and a real gateway: in-order sends
 * it whole before anything newer; live-first sends readings that arrive during the drain ahead
 * of the rest of it. Either way nothing is lost and no seq is reused. The topic has one partition,
 * so Kafka's offsets are the order the gateway sent in.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertSeqsUnique, durabilityRig, missing, type Rig } from './support/durability-rig.js';
import { waitFor } from './support/gateway-process.js';

describe('draining a backlog', { concurrency: false }, () => {
  let rig: Rig;
  before(async () => {
    rig = await durabilityRig();
  });
  after(() => rig?.close());

  for (const drain of ['in-order', 'live-first'] as const) {
    test(`${drain}: a backlog of 30,000 readings and 200 arriving while it drains`, async () => {
      // Small batches: the drain takes many rounds, so readings can arrive in the middle of it.
      const { g, topic, prefix } = await rig.newGateway({ kafka: { drain, partitions: 1, batchMaxRecords: 20 } });
      await rig.kafka.stop();
      const pub = await rig.publisher(prefix, 10);
      await g.start();
      await pub.publish(3000);
      await waitFor('the backlog stored', async () => (await g.metric('sensorgate_readings_ingested_total')) >= 30_000);
      await rig.kafka.start();
      await waitFor('the drain begun', async () => (await g.metric('sensorgate_readings_sent_total')) > 0, 120_000);
      const { buffer } = await g.status();
      assert.ok(buffer.depth > 5000, `the drain is under way (${buffer.depth} readings left)`);
      const liveFrom: number = buffer.nextSeq;
      await pub.publish(20);
      await waitFor(
        'every reading in Kafka',
        async () => missing(await rig.records(topic), pub.next).length === 0,
        240_000,
      );
      const records = await rig.records(topic);
      assertSeqsUnique(records);
      const firstCopies = [...new Map(records.map((r) => [r.value.seq as number, r.offset] as const))];
      const backlog = firstCopies.filter(([seq]) => seq < liveFrom);
      const live = firstCopies.filter(([seq]) => seq >= liveFrom);
      assert.equal(live.length, 200);
      const lastBacklog = Math.max(...backlog.map(([, offset]) => offset));
      const firstLive = Math.min(...live.map(([, offset]) => offset));
      for (const lane of [backlog, live])
        assert.ok(
          lane.every(([seq], i) => i === 0 || seq > lane[i - 1]![0]),
          'the backlog and the live readings each in seq order',
        );
      if (drain === 'in-order') assert.ok(firstLive > lastBacklog, 'live readings behind the whole backlog');
      else
        assert.ok(
          firstLive < lastBacklog,
          `live readings sent ahead of the backlog's rest (first live at offset ${firstLive}, last of the backlog at ${lastBacklog})`,
        );
      await g.stop();
    });
  }
});
