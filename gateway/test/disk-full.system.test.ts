/**
 * A full disk (the data dir on a 2 MiB tmpfs, reserveBytes 0 so that it really fills; Kafka
 * down): the gateway refuses what it cannot store without acknowledging it, says so, keeps running,
 * and when Kafka returns it sends everything it acknowledged and takes readings in again by itself.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { assertSeqsUnique, durabilityRig, missing, type Rig } from './support/durability-rig.js';
import { waitFor } from './support/gateway-process.js';

let rig: Rig;
let mount: string;
before(async () => {
  mount = mkdtempSync(join(tmpdir(), 'sg-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mount]);
  rig = await durabilityRig();
});
after(async () => {
  await rig?.close();
  execFileSync('umount', ['-l', mount]);
  rmSync(mount, { recursive: true, force: true });
});

test('disk full with Kafka down: no crash, nothing unstored acknowledged, disk_full shown; all of it arrives later and intake resumes', async () => {
  const dataDir = join(mount, 'data');
  mkdirSync(dataDir);
  const { g, topic, prefix } = await rig.newGateway({ dataDir, buffer: { reserveBytes: 0 } });
  await g.start();
  await waitFor('uplink connected', async () => (await g.metric('sensorgate_uplink_connected')) === 1);
  await rig.kafka.stop();
  const pub = await rig.publisher(prefix, 10);
  // Far more than 2 MiB of readings, stored compressed at 10-20 bytes each; Mosquitto
  // acknowledges them to the publisher and keeps for the gateway's session whatever the gateway
  // does not acknowledge.
  await pub.publish(30_000);
  await waitFor('disk_full shown', async () =>
    (await g.status()).problems.some((p: { code: string }) => p.code === 'disk_full'),
  );
  assert.ok((await fetch(`${g.statusUrl}/healthz`)).ok, 'still running');
  const stored = await g.metric('sensorgate_readings_ingested_total');
  assert.ok(stored > 5000 && stored < 300_000, `stored ${stored} before the disk filled`);
  assert.equal(
    await g.metric('sensorgate_readings_dropped_total'),
    0,
    'MQTT input is refused, not dropped: the broker keeps it',
  );

  await rig.kafka.start();
  await waitFor(
    'every published reading in Kafka',
    async () => missing(await rig.records(topic), pub.next).length === 0,
    300_000,
  ).catch(async (err: Error) => {
    throw new Error(
      `${err.message}: ${missing(await rig.records(topic), pub.next).length} missing; ${JSON.stringify((await g.status()).problems)}\n${g.logTail()}`,
    );
  });
  await waitFor(
    'disk_full cleared',
    async () => !(await g.status()).problems.some((p: { code: string }) => p.code === 'disk_full'),
  );
  await pub.publish(100);
  await waitFor(
    'intake resumed without a restart',
    async () => missing(await rig.records(topic), pub.next).length === 0,
  );
  assertSeqsUnique(await rig.records(topic));
  assert.equal(await g.stop(), 0);
});
