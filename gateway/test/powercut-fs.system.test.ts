/** The power-cut file system itself: unsynced writes vanish on a cut, synced ones stay; SQLite runs on it. */
import assert from 'node:assert/strict';
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { seqsInFile } from './support/buffer-file.js';
import { bufferDefaults } from './support/pipeline-fixture.js';
import { mountPowerCutFs, type PowerCutFs } from './support/powercut.js';

let fs: PowerCutFs;
before(async () => {
  fs = await mountPowerCutFs();
});
after(async () => {
  await fs?.destroy();
});

test('a cut drops what was not fsynced and keeps what was', async () => {
  const file = join(fs.mountpoint, 'f');
  const fd = openSync(file, 'w');
  writeSync(fd, 'synced;');
  fsyncSync(fd);
  writeSync(fd, 'not synced');
  assert.equal(readFileSync(file, 'utf8'), 'synced;not synced', 'readers see unsynced data before the cut');
  await fs.command({ cut: true });
  assert.equal(await fs.nextCut(), 'command');
  assert.throws(() => writeSync(fd, 'x'), /EIO/, 'after a cut nothing more is written');
  try {
    closeSync(fd);
  } catch {
    /* EIO */
  }
  await fs.command({ resume: true });
  assert.equal(readFileSync(file, 'utf8'), 'synced;');
});

test('SQLite in WAL mode with synchronous FULL: every committed reading survives a cut inside a WAL write', async () => {
  const dir = join(fs.mountpoint, 'data');
  const b = SqliteBuffer.open(dir, bufferDefaults);
  const entry = { key: 'gw/s', ts: 1, encode: (seq: number) => JSON.stringify({ seq }) };
  let committed = 0;
  await fs.command({ cutOnWrite: { suffix: '-wal', nth: 40 } });
  try {
    for (;;) {
      b.append([entry, entry, entry]);
      committed += 3;
    }
  } catch (err) {
    assert.match((err as Error).message, /I\/O|disk/i);
  }
  assert.match(await fs.nextCut(), /-wal/);
  await fs.command({ resume: true });
  // As a restart after the power returns would find it.
  const db = new Database(join(dir, 'buffer.sqlite'));
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  db.close();
  assert.equal(seqsInFile(dir).length, committed);
});

test('fsync errors: a commit that was not made durable fails', async () => {
  const dir = join(fs.mountpoint, 'eio');
  const b = SqliteBuffer.open(dir, bufferDefaults);
  const entry = { key: 'gw/s', ts: 1, encode: (seq: number) => JSON.stringify({ seq }) };
  b.append([entry]);
  await fs.command({ failFsync: true });
  assert.throws(
    () => b.append([entry]),
    (err: NodeJS.ErrnoException) => /SQLITE_IOERR/.test(String(err.code)),
  );
  await fs.command({ failFsync: false });
  b.append([entry]);
  assert.ok(b.stats().depth >= 2);
  b.close();
});
