/**
 * A damaged buffer file never stops the gateway (real gateway process, Kafka, Mosquitto, SQLite
 * files damaged for real): it is set aside, what it still holds is salvaged with its seqs and sent,
 * losses are counted, new readings flow, and no seq is ever used twice.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertSeqsUnique, checkpoint, durabilityRig, missing, type Rig, smash } from './support/durability-rig.js';
import { waitFor } from './support/gateway-process.js';

describe('damaged buffer file', { concurrency: false }, () => {
  let rig: Rig;
  before(async () => {
    rig = await durabilityRig();
  });
  after(async () => {
    await rig?.close();
  });

  /** A gateway holding `n` readings (Kafka down), after `sent` more went to Kafka first. */
  async function bufferedGateway(n: number, sent = 0) {
    const gw = await rig.newGateway();
    await gw.g.start();
    const pub = await rig.publisher(gw.prefix, 10);
    if (sent) {
      await pub.publish(sent / 10);
      await waitFor('first readings sent', async () => (await gw.g.metric('sensorgate_readings_sent_total')) >= sent);
    }
    await rig.kafka.stop();
    await pub.publish(n / 10);
    await waitFor(`${n} buffered`, async () => (await gw.g.metric('sensorgate_buffer_depth')) >= n);
    return { ...gw, pub, file: join(gw.dataDir, 'buffer.sqlite') };
  }

  const pages = (file: string) => Math.floor(statSync(file).size / 4096);
  /**
   * A damaged page: 1 KiB, a buffer file's page size. A page holds the compressed readings of
   * whole commits (the rows of up to 128 readings that cross it are lost), and the file is about a
   * tenth of what the same readings take uncompressed: damage is measured in pages, not as a share of the file.
   */
  const PAGE = 1024;

  test('mid-file damage while stopped: starts, salvages at least 80 % with their seqs into Kafka, counts, new readings flow', async () => {
    const { g, topic, pub, file, dataDir } = await bufferedGateway(6000);
    assert.equal(await g.stop(), 0);
    for (const at of [0.3, 0.5, 0.7]) smash(file, Math.floor(pages(file) * at) * 4096, PAGE);
    await rig.kafka.start();
    await g.start();
    await pub.publish(10); // new readings, while the backlog is still there
    await waitFor('damage found and salvaged', async () => (await g.metric('sensorgate_buffer_salvaged_total')) > 0);
    await waitFor(
      'backlog and new readings sent',
      async () =>
        (await g.metric('sensorgate_buffer_depth')) === 0 &&
        (await g.metric('sensorgate_readings_ingested_total')) >= 100,
    );
    const salvaged = await g.metric('sensorgate_buffer_salvaged_total');
    const lost = await g.metric('sensorgate_readings_dropped_total', { reason: 'corrupt' });
    assert.ok(salvaged >= 4800, `salvaged ${salvaged} of 6000`);
    // The new readings may have gone into the damaged file before the forwarder found the damage.
    assert.ok(
      salvaged + lost >= 6000 && salvaged + lost <= 6100,
      `salvaged ${salvaged} + lost ${lost}: every buffered reading is one or the other`,
    );
    const records = await rig.records(topic);
    assertSeqsUnique(records);
    const old = new Set(records.filter((r) => r.value.seq <= 6000).map((r) => r.value.seq));
    assert.ok(old.size >= 4800, `${old.size} of the 6000 buffered readings reached Kafka with their original seqs`);
    assert.equal(missing(records, pub.next).length, lost, 'what is missing in Kafka is what was counted lost');
    for (let s = 0; s < 10; s++)
      assert.ok(
        records.some((r) => r.value.sensor === `s${s}` && r.value.value === 609),
        'new readings flowed',
      );
    const problem = (await g.status()).problems.find((p: { code: string }) => p.code === 'buffer_corrupt');
    assert.match(problem?.detail ?? '', new RegExp(`${salvaged} readings salvaged, ${lost} lost`));
    assert.equal(
      readdirSync(dataDir).filter((f) => /^buffer\.sqlite\.corrupt-\d{8}T\d{6}\.\d{3}Z$/.test(f)).length,
      1,
      'the damaged file is kept aside',
    );
    assert.match(g.logTail(200), /"level":"error".*buffer file damaged/);
    await g.stop();
  });

  test('header damage: starts, new readings flow, no seq Kafka has seen is used again', async () => {
    const { g, topic, pub, file } = await bufferedGateway(3000, 1000);
    assert.equal(await g.stop(), 0);
    smash(file, 0, 100);
    await rig.kafka.start();
    await g.start();
    const before = pub.next[0]!;
    await pub.publish(50);
    await waitFor('new readings sent', async () => {
      const records = await rig.records(topic);
      return records.filter((r) => r.value.sensor === 's0' && r.value.value >= before).length === 50;
    });
    const records = await rig.records(topic);
    assertSeqsUnique(records);
    const first = records.filter((r) => r.value.value < 100);
    const later = records.filter((r) => r.value.value >= before);
    const maxOld = Math.max(...first.map((r) => r.value.seq));
    assert.ok(
      later.every((r) => r.value.seq > 4000 && r.value.seq > maxOld),
      'new seqs are above every seq handed out before',
    );
    assert.ok((await g.status()).problems.some((p: { code: string }) => p.code === 'buffer_corrupt'));
    await g.stop();
  });

  test('damage under a running gateway: found, salvaged and sent without a restart', async () => {
    // The readings in the main file, where the damage goes: how many SQLite had checkpointed
    // there by itself depended on how large they are stored. And far more of them than the
    // gateway's page cache (512 KiB) holds: a page it still has in memory is never read from
    // the disk again, so damage there would never be seen (nor matter).
    const { g, topic, pub, file } = await bufferedGateway(100_000);
    checkpoint(file);
    for (const at of [0.2, 0.3]) smash(file, Math.floor(pages(file) * at) * 4096, PAGE);
    await rig.kafka.start();
    await waitFor(
      'damage found and salvaged',
      async () => (await g.metric('sensorgate_buffer_salvaged_total')) > 0,
      180_000,
    );
    await pub.publish(10);
    await waitFor(
      'everything sent',
      async () =>
        (await g.metric('sensorgate_buffer_depth')) === 0 &&
        (await g.metric('sensorgate_readings_ingested_total')) >= 100_100,
      180_000,
    );
    const salvaged = await g.metric('sensorgate_buffer_salvaged_total');
    const lost = await g.metric('sensorgate_readings_dropped_total', { reason: 'corrupt' });
    const records = await rig.records(topic);
    assertSeqsUnique(records);
    assert.ok(lost > 0 && lost < 2000, `lost ${lost}: the damaged pages, not the rest`);
    assert.equal(missing(records, pub.next).length, lost, 'everything else reached Kafka');
    assert.ok(salvaged > 0);
    assert.ok((await g.status()).problems.some((p: { code: string }) => p.code === 'buffer_corrupt'));
    await g.stop();
  });
});
