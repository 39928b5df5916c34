/**
 * The buffer against its own disk: seqs never repeat whatever happens to the file (model-based),
 * damaged files are set aside and salvaged with their seqs, and runtime damage is recovered from.
 */
import assert from 'node:assert/strict';
import { closeSync, copyFileSync, existsSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import type { SalvageReport } from '../buffer/buffer.js';
import { BUFFER_FILE } from '../buffer/schema.js';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { incompressible, seqsInFile, writeLegacyFile } from './support/buffer-file.js';
import { bufferDefaults as defaults, tempDir } from './support/pipeline-fixture.js';

const seqsOf = (b: SqliteBuffer) => b.lease(0, 1 << 30, 1 << 30).map((r) => r.seq);

/** Overwrite `length` bytes at `offset` of a file with garbage. */
function smash(file: string, offset: number, length: number): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(length, 0xa5), 0, length, offset);
  closeSync(fd);
}

test('model: seqs are never handed out twice, whatever happens to the buffer file between runs', () => {
  // Events between runs: a clean close, a crash (no close), the file deleted, the file replaced by
  // an older copy of itself (what a power cut under synchronous NORMAL can leave), the header smashed.
  const event = fc.constantFrom('close', 'crash', 'delete', 'rollback', 'smash');
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 300 }), event), { minLength: 1, maxLength: 12 }),
      (runs) => {
        const dir = tempDir();
        const file = join(dir, BUFFER_FILE);
        const handedOut = new Set<number>();
        let snapshot: string | undefined;
        for (const [i, [n, ev]] of runs.entries()) {
          const b = SqliteBuffer.open(dir, defaults);
          // A new data dir: the forwarder anchors it before anything is sent.
          if (i === 0) b.anchor(0);
          assert.ok(b.anchored, 'a data dir once anchored stays so, whatever happens to its file');
          const before = new Set(seqsOf(b));
          b.append(incompressible(n, 0));
          for (const seq of seqsOf(b)) {
            if (before.has(seq)) continue;
            assert.ok(!handedOut.has(seq), `seq ${seq} handed out twice`);
            handedOut.add(seq);
          }
          if (ev === 'rollback' && snapshot === undefined) {
            b.checkpoint();
            snapshot = join(dir, 'old.sqlite');
            copyFileSync(file, snapshot);
          }
          if (ev === 'close') b.close();
          else b.checkpoint(); // a crash: the process is gone, the file stays as written
          if (ev === 'delete') for (const f of readdirSync(dir)) if (f.startsWith(BUFFER_FILE)) rmSync(join(dir, f));
          if (ev === 'rollback' && snapshot) {
            b.close();
            copyFileSync(snapshot, file);
            rmSync(join(dir, 'buffer.clean'), { force: true });
          }
          if (ev === 'smash') {
            b.close();
            smash(file, 0, 100);
          }
        }
      },
    ),
    { numRuns: 40 },
  );
});

test('a clean close keeps seqs dense; a crash continues above the high-water mark', () => {
  const dir = tempDir();
  let b = SqliteBuffer.open(dir, defaults);
  b.anchor(0);
  b.append(incompressible(3, 0));
  b.close();
  b = SqliteBuffer.open(dir, defaults);
  assert.equal(b.stats().nextSeq, 4, 'dense after a clean close');
  b.append(incompressible(1, 0));
  b.checkpoint(); // no close: a crash
  b = SqliteBuffer.open(dir, defaults);
  assert.ok(b.stats().nextSeq > 5, 'after a crash, above every seq that may have been reserved');
  assert.equal(existsSync(join(dir, 'seq.hwm')), true);
  b.close();
});

/** A buffer of `n` readings, closed cleanly; returns its report of what it salvaged on reopening after `damage`. */
function damagedBuffer(
  n: number,
  damage: (file: string) => void,
  anchored = true,
): { dir: string; b: SqliteBuffer; reports: SalvageReport[] } {
  const dir = tempDir();
  const b0 = SqliteBuffer.open(dir, defaults);
  if (anchored) b0.anchor(0);
  for (let i = 0; i < n; i += 1000) b0.append(incompressible(Math.min(1000, n - i), 110));
  b0.close();
  damage(join(dir, BUFFER_FILE));
  const reports: SalvageReport[] = [];
  const b = SqliteBuffer.open(dir, defaults, { salvaged: (r) => reports.push(r) });
  return { dir, b, reports };
}

test('mid-file damage: the file is set aside, readable readings are salvaged with their seqs, losses counted', () => {
  const { dir, b, reports } = damagedBuffer(6000, (file) => {
    const pages = statSync(file).size / 4096;
    for (const at of [0.3, 0.5, 0.7]) smash(file, Math.floor(pages * at) * 4096, 3 * 4096);
  });
  assert.equal(reports.length, 0, 'after a clean close the file is not checked at start');
  b.lease(0, 1 << 30, 1 << 30);
  assert.equal(reports.length, 1, 'reading it finds the damage');
  const [r] = reports;
  assert.ok(r!.salvaged >= 4800, `salvaged ${r!.salvaged} of 6000`);
  assert.equal(r!.salvaged + r!.lost!, 6000, 'salvaged and lost add up to what the file held');
  const seqs = seqsOf(b);
  assert.equal(seqs.length, r!.salvaged);
  for (const row of b.lease(0, 100, 1 << 30)) assert.equal(JSON.parse(row.value).seq, row.seq, 'original seqs');
  assert.ok(seqs.every((s) => s >= 1 && s <= 6000));
  assert.equal(b.stats().depth, r!.salvaged);
  assert.equal(b.anchored, true, 'its seqs are kept: still anchored');
  b.append(incompressible(1, 0));
  assert.ok(seqsOf(b).at(-1)! > 6000, 'new readings continue above the old seqs');
  assert.equal(
    readdirSync(dir).filter(
      (f) => f.startsWith(`${BUFFER_FILE}.corrupt-`) && !f.endsWith('-wal') && !f.endsWith('-shm'),
    ).length,
    1,
  );
  b.close();
});

test('a buffer not yet anchored reserves no seqs: should its file be lost, the next one is not anchored either', () => {
  // A new card, Kafka not reached yet: readings numbered 1, 2, … provisionally. Had they reserved
  // seqs, the file's successor would count as anchored and send under seqs Kafka already has.
  const dir = tempDir();
  const b0 = SqliteBuffer.open(dir, defaults);
  b0.append(incompressible(5, 0));
  b0.close();
  assert.equal(existsSync(join(dir, 'seq.hwm')), false, 'nothing reserved');
  for (const f of readdirSync(dir)) if (f.startsWith(BUFFER_FILE)) rmSync(join(dir, f));
  const b = SqliteBuffer.open(dir, defaults);
  assert.equal(b.anchored, false, 'it will ask Kafka which seqs to follow');
  b.close();
});

test('a buffer not yet anchored whose header is destroyed is salvaged not anchored: nothing says otherwise', () => {
  const { b, reports } = damagedBuffer(3000, (file) => smash(file, 0, 100), false);
  assert.equal(reports.length, 1);
  assert.equal(b.anchored, false);
  b.close();
});

test('a buffer not yet anchored stays so when salvaged: its seqs may still be below what Kafka has', () => {
  const { b, reports } = damagedBuffer(
    3000,
    (file) => {
      const pages = statSync(file).size / 4096;
      smash(file, Math.floor(pages * 0.5) * 4096, 2 * 4096);
    },
    false,
  );
  b.lease(0, 1 << 30, 1 << 30);
  assert.equal(reports.length, 1);
  assert.equal(b.anchored, false);
  b.close();
});

test('a damaged file of an older version (a row per reading) is salvaged into rows, with its seqs', () => {
  const dir = tempDir();
  const file = join(dir, BUFFER_FILE);
  writeLegacyFile(
    dir,
    incompressible(5000, 110).map((e, i) => ({ seq: i + 1, key: e.key, value: e.encode(i + 1), ts: e.ts })),
  );
  smash(file, Math.floor(statSync(file).size / 4096 / 2) * 4096, 2 * 4096);
  const reports: SalvageReport[] = [];
  const b = SqliteBuffer.open(dir, defaults, { salvaged: (r) => reports.push(r) });
  assert.equal(reports.length, 1, 'no clean mark: the check at start found the damage');
  const [r] = reports;
  assert.ok(r!.salvaged >= 4900 && r!.salvaged < 5000, `salvaged ${r!.salvaged} of 5000`);
  assert.equal(r!.salvaged + r!.lost!, 5000);
  const leased = b.lease(0, 1 << 30, 1 << 30);
  assert.equal(leased.length, r!.salvaged);
  for (const row of leased) assert.equal(JSON.parse(row.value).seq, row.seq, 'original seqs');
  assert.ok(seqsInFile(dir).length === r!.salvaged, 'in rows of the new layout');
  b.close();
});

test('header damage: the gateway starts empty above every old seq', () => {
  const { b, reports } = damagedBuffer(3000, (file) => smash(file, 0, 100));
  assert.equal(reports.length, 1);
  assert.equal(reports[0]!.lost, null, 'the damaged file cannot say what it held');
  b.append(incompressible(1, 0));
  assert.ok(seqsOf(b)[0]! > 3000);
  b.close();
});

test('damage found while running: lease recovers without a restart, at most a few damaged files are kept', () => {
  const dir = tempDir();
  const reports: SalvageReport[] = [];
  const b = SqliteBuffer.open(dir, { ...defaults }, { salvaged: (r) => reports.push(r) });
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 8; i++) b.append(incompressible(1000, 110));
    b.checkpoint();
    const file = join(dir, BUFFER_FILE);
    const pages = statSync(file).size / 4096;
    smash(file, Math.floor(pages / 4) * 4096, 2 * 4096);
    const leased = b.lease(0, 1 << 30, 1 << 30);
    assert.equal(reports.length, round + 1, 'the damage was found and recovered from');
    assert.ok(leased.length > 0);
    b.ack(leased[0]!.seq, leased.at(-1)!.seq);
  }
  const kept = readdirSync(dir).filter(
    (f) => f.startsWith(`${BUFFER_FILE}.corrupt-`) && !f.endsWith('-wal') && !f.endsWith('-shm'),
  );
  assert.equal(kept.length, 3, 'the oldest damaged files were removed');
  b.close();
});

test('a salvage cut short (the process stopped mid-way) leaves the damaged file in place and starts over', () => {
  const dir = tempDir();
  const file = join(dir, BUFFER_FILE);
  const b0 = SqliteBuffer.open(dir, defaults);
  for (let i = 0; i < 3; i++) b0.append(incompressible(10_000, 75));
  b0.close();
  smash(file, Math.floor(statSync(file).size / 4096 / 2) * 4096, 4096);
  rmSync(join(dir, 'buffer.clean')); // as after a crash: the integrity check at start finds the damage
  assert.throws(
    () =>
      SqliteBuffer.open(dir, defaults, {
        progress: () => {
          throw new Error('stopped');
        },
      }),
    /stopped/,
  );
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('corrupt')),
    [],
    'nothing set aside yet',
  );
  const reports: SalvageReport[] = [];
  const b = SqliteBuffer.open(dir, defaults, { salvaged: (r) => reports.push(r) });
  assert.equal(reports.length, 1);
  assert.ok(reports[0]!.salvaged > 29_000, `salvaged ${reports[0]!.salvaged}`);
  assert.equal(b.stats().depth, reports[0]!.salvaged);
  b.close();
});
