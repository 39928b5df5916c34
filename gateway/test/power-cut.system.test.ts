/**
 * Power cuts and failing fsync, with the power-cut file system (support/powercut-fs.py) under the
 * data dir: writes not fsynced are lost on a cut, as on a real device. Mosquitto forgets a message
 * only once the gateway acknowledged it, so every published reading missing in Kafka at the end
 * would be one the gateway acknowledged and lost.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertSeqsUnique, durabilityRig, integrity, missing, type Rig } from './support/durability-rig.js';
import { type GatewayProcess, waitFor } from './support/gateway-process.js';
import { mountPowerCutFs, type PowerCutCommand, type PowerCutFs } from './support/powercut.js';

describe('power cuts', { concurrency: false }, () => {
  let rig: Rig;
  let fs: PowerCutFs;
  before(async () => {
    [rig, fs] = await Promise.all([durabilityRig(), mountPowerCutFs()]);
  });
  after(async () => {
    await rig?.close();
    await fs?.destroy();
  });

  /** Cut the power (now, or when the armed write comes), kill the gateway, and let the disk work again. */
  async function powerCut(g: GatewayProcess, arm: PowerCutCommand): Promise<string> {
    await fs.command(arm);
    const reason = await fs.nextCut();
    await g.kill();
    await fs.command({ resume: true });
    return reason;
  }

  async function allArrived(topic: string, published: number[], g: GatewayProcess) {
    await waitFor(
      'every published reading in Kafka',
      async () => missing(await rig.records(topic), published).length === 0,
      240_000,
    ).catch(async (err: Error) => {
      throw new Error(
        `${err.message}: missing ${missing(await rig.records(topic), published)
          .slice(0, 20)
          .join(', ')}\n${g.logTail()}`,
      );
    });
  }

  test('synchronous FULL: three cuts (random moment, inside a WAL write, inside a checkpoint) lose no acknowledged reading', async () => {
    const dataDir = join(fs.mountpoint, 'full');
    // A cap of 4 MiB bounds the WAL at 256 KiB between checkpoints (a sixteenth of the cap): the
    // readings below, stored compressed, make several.
    const { g, topic, prefix } = await rig.newGateway({
      dataDir,
      buffer: { synchronous: 'FULL', maxBytes: 4 * 1024 * 1024 },
    });
    await rig.kafka.stop();
    const pub = await rig.publisher(prefix, 10);
    const file = join(fs.backing, 'full', 'buffer.sqlite');

    await g.start();
    await pub.publish(300);
    await waitFor('readings stored', async () => (await g.metric('sensorgate_readings_ingested_total')) > 1000);
    await new Promise((r) => setTimeout(r, Math.random() * 500));
    assert.equal(await powerCut(g, { cut: true }), 'command');
    assert.equal(integrity(file), 'ok');

    await g.start();
    const streaming = pub.publish(300);
    assert.match(await powerCut(g, { cutOnWrite: { suffix: 'buffer.sqlite-wal', nth: 40 } }), /buffer\.sqlite-wal/);
    await streaming;
    assert.equal(integrity(file), 'ok');

    await g.start();
    // Enough for SQLite's automatic checkpoint, the only time it writes the main file.
    const more = pub.publish(3000);
    assert.match(await powerCut(g, { cutOnWrite: { suffix: '/full/buffer.sqlite', nth: 3 } }), /full\/buffer\.sqlite$/);
    await more;
    assert.equal(integrity(file), 'ok');

    await g.start();
    await rig.kafka.start();
    await allArrived(topic, pub.next, g);
    assertSeqsUnique(await rig.records(topic));
    await g.stop();
  });

  test('synchronous NORMAL: readings may be lost in a cut, a seq is never reused', async () => {
    const dataDir = join(fs.mountpoint, 'normal');
    const { g, topic, prefix } = await rig.newGateway({ dataDir, buffer: { synchronous: 'NORMAL' } });
    const pub = await rig.publisher(prefix, 10);
    await g.start();
    for (let i = 0; i < 2; i++) {
      const streaming = pub.publish(500, 2500);
      await waitFor('readings sent', async () => (await g.metric('sensorgate_readings_sent_total')) > 500);
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 500));
      await powerCut(g, { cut: true });
      await streaming;
      await g.start();
    }
    await pub.publish(100);
    await waitFor(
      'sent',
      async () =>
        (await g.metric('sensorgate_buffer_depth')) === 0 && (await g.metric('sensorgate_readings_sent_total')) > 0,
    );
    const records = await rig.records(topic);
    assert.ok(records.length > 5000);
    assertSeqsUnique(records);
    await g.stop();
  });

  test('fsync fails with EIO: nothing unsynced is acknowledged, buffer_io_error shown, recovers when the errors stop', async () => {
    const dataDir = join(fs.mountpoint, 'eio');
    const { g, topic, prefix } = await rig.newGateway({ dataDir });
    await rig.kafka.stop();
    const pub = await rig.publisher(prefix, 10);
    await g.start();
    await pub.publish(100);
    await waitFor('readings stored', async () => (await g.metric('sensorgate_readings_ingested_total')) >= 1000);
    await fs.command({ failFsync: true });
    await pub.publish(200);
    await waitFor('buffer_io_error shown', async () =>
      (await g.status()).problems.some((p: { code: string }) => p.code === 'buffer_io_error'),
    );
    assert.ok((await fetch(`${g.statusUrl}/healthz`)).ok, 'still running');
    await fs.command({ failFsync: false });
    await pub.publish(100);
    await waitFor(
      'buffer_io_error cleared',
      async () => !(await g.status()).problems.some((p: { code: string }) => p.code === 'buffer_io_error'),
    );
    // Whatever was acknowledged must have been durable: a cut now must not lose any of it.
    await powerCut(g, { cut: true });
    await g.start();
    await rig.kafka.start();
    await allArrived(topic, pub.next, g);
    assertSeqsUnique(await rig.records(topic));
    assert.equal(await g.stop(), 0);
    assert.equal(integrity(join(fs.backing, 'eio', 'buffer.sqlite')), 'ok');
  });
});
