/** The buffer on a file system that really fills (a small tmpfs): refuse, keep acking, resume. */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  statfsSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import type { BufferOptions } from '../buffer/buffer.js';
import { RESERVE_FILE } from '../buffer/disk-space.js';
import { storageFailure } from '../buffer/failures.js';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { Ingest } from '../ingest/ingest.js';
import { encodeRecord } from '../ingest/record.js';
import { Status } from '../status/status.js';
import { incompressible, writeLegacyFile } from './support/buffer-file.js';
import { libfaketime } from './support/faketime.js';
import { bufferDefaults } from './support/pipeline-fixture.js';

let mount: string;
before(() => {
  mount = mkdtempSync(join(tmpdir(), 'sg-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mount]);
});
after(() => {
  execFileSync('umount', ['-l', mount]);
  rmSync(mount, { recursive: true, force: true });
});

const defaults: BufferOptions = { ...bufferDefaults, reserveBytes: 0 };
/** About 200 bytes each in the file. */
const entries = (n: number) => incompressible(n, 150);
/** A name of 64 random characters: what makes a reading through ingest not compress. */
const noiseName = (length: number) => randomBytes(length).toString('base64url').slice(0, length);

test('a full file system refuses commits whole, acks still work, intake resumes once room returns', () => {
  const dir = join(mount, 'a');
  mkdirSync(dir);
  const problems: Array<[string, string | null]> = [];
  const b = SqliteBuffer.open(dir, defaults, {
    problem: (code, detail) => {
      if (code !== 'buffer_near_full') problems.push([code, detail]);
    },
  });
  let stored = 0;
  let failure: unknown;
  for (let i = 0; i < 1000 && !failure; i++) {
    try {
      stored += b.append(entries(500)).stored;
    } catch (err) {
      failure = err;
    }
  }
  assert.equal(storageFailure(failure), 'disk_full', `failed with ${String(failure)}`);
  assert.equal(b.stats().depth, stored, 'the failed commit left nothing behind, and the counters agree');
  assert.deepEqual(problems.at(-1)?.[0], 'disk_full');
  assert.throws(() => b.append(entries(500)), 'still full');

  const leased = b.lease(0, 1 << 30, 1 << 30);
  assert.equal(leased.length, stored, 'every stored reading is readable');
  assert.equal(b.ack(leased[0]!.seq, leased.at(-1)!.seq), stored, 'acknowledged readings are deleted on a full disk');
  assert.equal(b.append(entries(500)).stored, 500, 'intake resumes by itself');
  assert.deepEqual(problems.at(-1), ['disk_full', null], 'disk_full cleared');
  b.close();
});

test('reserveBytes shrinks the cap: the policy applies before the file system fills', () => {
  const dir = join(mount, 'b');
  mkdirSync(dir);
  const fs = statfsSync(dir);
  const free = fs.bavail * fs.bsize;
  const b = SqliteBuffer.open(dir, { ...defaults, reserveBytes: free - 512 * 1024 });
  let dropped = 0;
  for (let i = 0; i < 20; i++) dropped += b.append(entries(500)).droppedOldest;
  assert.ok(dropped > 0, 'drop-oldest made room');
  assert.ok(b.stats().bytes <= 512 * 1024, `bytes ${b.stats().bytes} within the effective cap`);
  b.close();
});

test('ingest on a full disk: every waiting driver hears it; input that cannot be redelivered is counted as dropped', async () => {
  const dir = join(mount, 'c');
  mkdirSync(dir);
  const clock = { bootId: 'boot-1', now: () => 1_700_000_000_000, synced: () => true };
  const status: Status = new Status('gw1', '0.0.0', clock, () => buffer.stats());
  const buffer = SqliteBuffer.open(dir, defaults, { problem: (code, detail) => status.problem(code, detail) });
  const ingest = new Ingest(buffer, status, clock, { gateway: 'gw1', commitIntervalMs: 0 }, () => undefined);
  const serial = ingest.sinkFor('serial', false);
  const mqtt = ingest.sinkFor('mqtt', true);
  const reading = () => ({ sensor: noiseName(64), metric: noiseName(64), value: Math.random(), unit: noiseName(32) });
  const readings = (n: number) => Array.from({ length: n }, reading);
  // Fill the disk through ingest itself, in ever smaller commits until not even one reading fits.
  for (let size = 100; size >= 1; size = Math.floor(size / 10)) {
    for (let i = 0; i < 1000; i++) {
      const done = Promise.all([serial.submit(readings(size)), mqtt.submit(readings(size))]);
      if (
        await done.then(
          () => false,
          () => true,
        )
      )
        break;
    }
  }
  const dropped = async () =>
    Number(
      (await status.registry.getSingleMetricAsString('sensorgate_readings_dropped_total')).match(
        /reason="disk_full"\} (\d+)/,
      )?.[1] ?? 0,
    );
  const before = await dropped();
  assert.ok(before > 0, 'the serial readings of the failed commit were counted');
  const results = await Promise.allSettled([serial.submit(readings(2)), mqtt.submit(readings(3))]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
    'neither driver may acknowledge',
  );
  assert.equal(
    await dropped(),
    before + 2,
    'only the two serial readings count as dropped; MQTT gets its three back from the broker',
  );
  assert.ok(status.hasProblem('disk_full'));
  buffer.close();
});

test('on a disk full to the last block the buffer opens with its reserve, also upgrading an older file; without a reserve the start fails and loses nothing', () => {
  const disk = mkdtempSync(join(tmpdir(), 'sg-upgrade-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', disk]);
  const fillers: string[] = [];
  try {
    // Readings as ingest encodes them: stored whole by the older version, about a tenth as rows.
    const legacy = Array.from({ length: 3000 }, (_, i) => ({
      seq: i + 1,
      key: `gw/s${i % 10}`,
      ts: 1_700_000_000_000 + i,
      value: encodeRecord({
        gateway: 'gw',
        source: 'plant',
        sensor: `s${i % 10}`,
        metric: 'temp',
        value: 20 + (i % 70) / 10,
        ts: 1_700_000_000_000 + i,
        seq: i + 1,
        bootId: 'boot',
        clockSynced: true,
      }),
    }));
    const dataDir = (name: string): string => {
      const dir = join(disk, name);
      mkdirSync(dir);
      SqliteBuffer.open(dir, defaults).close(); // lays down the reserve file
      return dir;
    };
    /** A data dir as the older version left it (with its reserve file, if `reserve`). */
    const olderDataDir = (name: string, reserve: boolean): string => {
      const dir = dataDir(name);
      for (const f of readdirSync(dir)) if (f.startsWith('buffer.sqlite') || f === 'buffer.clean') rmSync(join(dir, f));
      if (!reserve) rmSync(join(dir, RESERVE_FILE));
      writeLegacyFile(dir, legacy);
      return dir;
    };
    const current = dataDir('current');
    const b0 = SqliteBuffer.open(current, defaults);
    b0.append(entries(500));
    b0.close();
    const older = olderDataDir('older', true);
    const bare = olderDataDir('bare', false);

    // Each start on a disk filled again: one giving up its reserve must not make room for the next.
    fillers.push(fill(disk));
    assert.throws(
      () => SqliteBuffer.open(bare, defaults),
      (err) => storageFailure(err) !== null,
      'without a reserve there is no room even for SQLite to open the file',
    );
    fillers.push(fill(disk));
    const b1 = SqliteBuffer.open(current, defaults);
    assert.equal(b1.lease(0, 1 << 30, 1 << 30).length, 500, 'a restart on a full disk');
    b1.close();
    fillers.push(fill(disk));
    const upgraded: number[] = [];
    const b2 = SqliteBuffer.open(older, defaults, { upgraded: (r) => upgraded.push(r.readings) });
    assert.deepEqual(upgraded, [3000]);
    assert.deepEqual(
      b2.lease(0, 1 << 30, 1 << 30).map((r) => r.value),
      legacy.map((r) => r.value),
    );
    b2.close();

    for (const f of fillers.splice(0)) rmSync(f);
    const b3 = SqliteBuffer.open(bare, defaults);
    assert.equal(b3.lease(0, 1 << 30, 1 << 30).length, 3000, 'the failed start lost nothing');
    b3.close();
  } finally {
    execFileSync('umount', ['-l', disk]);
    rmSync(disk, { recursive: true, force: true });
  }
});

let fillers = 0;
/** Fill a file system to the last block with a new file; returns its path. */
function fill(mountpoint: string): string {
  const file = join(mountpoint, `filler-${++fillers}`);
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 1);
  try {
    for (;;) writeSync(fd, block);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  const fs = statfsSync(mountpoint);
  assert.ok(fs.bavail * fs.bsize < 4096, 'the disk is full');
  return file;
}

/**
 * In a process under libfaketime: a buffer whose cap the full disk holds down (drop-oldest at
 * work), then room freed and the wall clock stepped back an hour, as an NTP step does. The cap is
 * looked at again within a second of monotonic time: what fits now is stored, nothing dropped.
 */
test('room freed while the wall clock steps back an hour: the cap follows within a second, nothing more is dropped', async () => {
  const disk = mkdtempSync(join(tmpdir(), 'sg-clock-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', disk]);
  const dir = join(disk, 'data');
  mkdirSync(dir);
  const clockFile = join(disk, 'faketime');
  writeFileSync(clockFile, '+0\n');
  const filler = join(disk, 'filler');
  const fd = openSync(filler, 'w');
  writeSync(fd, Buffer.alloc(1536 * 1024, 1));
  closeSync(fd);
  const fs = statfsSync(dir);
  const reserveBytes = fs.bavail * fs.bsize - 640 * 1024;
  const dist = (p: string) => new URL(p, import.meta.url).href;
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
      import { createInterface } from 'node:readline';
      import { SqliteBuffer } from '${dist('../buffer/sqlite-buffer.js')}';
      import { incompressible } from '${dist('./support/buffer-file.js')}';
      import { bufferDefaults } from '${dist('./support/pipeline-fixture.js')}';
      const b = SqliteBuffer.open(${JSON.stringify(dir)}, { ...bufferDefaults, reserveBytes: ${reserveBytes} });
      let dropped = 0;
      for (let i = 0; i < 100 && dropped === 0; i++) dropped = b.append(incompressible(500, 150)).droppedOldest;
      console.log(JSON.stringify({ full: dropped > 0 }));
      await new Promise((r) => createInterface({ input: process.stdin }).once('line', r));
      await new Promise((r) => setTimeout(r, 1500));
      dropped = 0;
      for (let i = 0; i < 3; i++) dropped += b.append(incompressible(500, 150)).droppedOldest;
      b.close();
      console.log(JSON.stringify({ dropped }));
      process.exit(0);
      `,
    ],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: {
        ...process.env,
        LD_PRELOAD: libfaketime(),
        FAKETIME_TIMESTAMP_FILE: clockFile,
        FAKETIME_NO_CACHE: '1',
        FAKETIME_DONT_FAKE_MONOTONIC: '1',
      },
    },
  );
  try {
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const next = async () => JSON.parse((await lines.next()).value as string);
    assert.deepEqual(await next(), { full: true }, 'drop-oldest at work under the small cap');
    rmSync(filler);
    writeFileSync(clockFile, '-1h\n');
    child.stdin!.write('go\n');
    assert.deepEqual(await next(), { dropped: 0 }, 'the freed room is used');
  } finally {
    child.kill();
    execFileSync('umount', ['-l', disk]);
    rmSync(disk, { recursive: true, force: true });
  }
});
