import assert from 'node:assert/strict';
import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { BufferEntry } from '../buffer/buffer.js';
import { CLEAN_FILE } from '../buffer/clean-mark.js';
import { RESERVE_FILE } from '../buffer/disk-space.js';
import { readStats } from '../buffer/read-only.js';
import { BUFFER_FILE, PAGE_SIZE } from '../buffer/schema.js';
import { SEQ_FILE } from '../buffer/seq-reservation.js';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { encodeRecord, type ReadingRecord, recordKey } from '../ingest/record.js';
import { bytesInFile, incompressible, seqsInFile, writeLegacyFile } from './support/buffer-file.js';
import { bufferDefaults as defaults, tempDir } from './support/pipeline-fixture.js';

function entries(n: number, sensor = 's1', pad = ''): BufferEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `gw/${sensor}`,
    ts: 1000 + i,
    encode: (seq: number) => JSON.stringify({ seq, i, pad }),
  }));
}

test('seq is assigned in order, persists across reopen and is never reused after a full drain', () => {
  const dir = tempDir();
  let b = SqliteBuffer.open(dir, defaults);
  b.anchor(0);
  b.append(entries(5));
  const leased = b.lease(0, 100, 1 << 20);
  assert.deepEqual(
    leased.map((r) => r.seq),
    [1, 2, 3, 4, 5],
  );
  assert.equal(JSON.parse(leased[2]!.value).seq, 3, 'the stored record carries its seq');
  b.ack(1, 5);
  assert.equal(b.stats().depth, 0);
  b.close();
  b = SqliteBuffer.open(dir, defaults);
  const { seqReserved, ...counters } = b.stats();
  assert.deepEqual(counters, { depth: 0, bytes: 0, oldestTs: null, nextSeq: 6 });
  assert.ok(seqReserved > 5, 'the reservation covers every seq handed out');
  b.append(entries(2));
  assert.deepEqual(
    b.lease(0, 100, 1 << 20).map((r) => r.seq),
    [6, 7],
  );
  b.close();
  assert.equal(readStats(dir).nextSeq, 8, 'read-only stats see the same counters');
});

test('the reserve is in place once the buffer is open, before the first commit', () => {
  const dir = tempDir();
  const b = SqliteBuffer.open(dir, defaults);
  assert.ok(statSync(join(dir, RESERVE_FILE)).size > 0, 'the first commit does not pay for writing it');
  b.close();
});

test('lease respects record and byte limits but always returns at least one record', () => {
  const b = SqliteBuffer.open(tempDir(), defaults);
  b.append(entries(10));
  assert.equal(b.lease(0, 3, 1 << 20).length, 3);
  assert.deepEqual(
    b.lease(7, 100, 1 << 20).map((r) => r.seq),
    [8, 9, 10],
  );
  assert.equal(b.lease(0, 100, 1).length, 1);
  b.close();
});

test('ack deletes only the acknowledged range, also inside the row of a commit, and keeps depth and bytes exact', () => {
  const dir = tempDir();
  const b = SqliteBuffer.open(dir, defaults);
  b.append(incompressible(10, 100, 's1'));
  const before = b.stats().bytes;
  assert.equal(b.ack(4, 6), 3);
  b.flushAcks();
  const s = b.stats();
  assert.equal(s.depth, 7);
  assert.ok(s.bytes < before, 'the readings kept are stored anew, without those acknowledged');
  assert.equal(s.bytes, bytesInFile(dir));
  assert.deepEqual(seqsInFile(dir), [1, 2, 3, 7, 8, 9, 10]);
  assert.equal(b.ack(1, 3), 3);
  assert.equal(b.stats().oldestTs, 1006);
  assert.deepEqual(
    b.lease(0, 100, 1 << 20).map((r) => r.seq),
    [7, 8, 9, 10],
  );
  b.close();
});

test('a small acknowledged range is deleted by the next commit of readings, or at close; a crash before brings it back', () => {
  const dir = tempDir();
  const rowsInFile = () => seqsInFile(dir);
  let b = SqliteBuffer.open(dir, defaults);
  b.append(entries(10));
  assert.equal(b.ack(1, 10), 10);
  assert.deepEqual(b.stats(), { depth: 0, bytes: 0, oldestTs: null, nextSeq: 11, seqReserved: b.stats().seqReserved });
  assert.equal(rowsInFile().length, 10, 'no transaction of its own');
  b.append(entries(3));
  assert.deepEqual(rowsInFile(), [11, 12, 13], 'deleted in the commit of the next readings');

  b.ack(11, 11);
  assert.equal(b.stats().oldestTs, 1001, 'the oldest reading still waiting');
  assert.deepEqual(
    b.lease(0, 100, 1 << 20).map((r) => r.seq),
    [12, 13],
    'never leased again',
  );
  b.ack(12, 12);
  // A crash (the handle abandoned) before a commit: the rows come back, to be sent again.
  b = SqliteBuffer.open(dir, defaults);
  assert.deepEqual(
    b.lease(0, 100, 1 << 20).map((r) => r.seq),
    [12, 13],
    '12 is back, to be sent again; 11 was deleted before the lease',
  );
  b.ack(12, 13);
  b.close();
  assert.deepEqual(rowsInFile(), [], 'close deletes what waited');
});

test('drop-oldest: at the cap the oldest readings make room and are counted', () => {
  const b = SqliteBuffer.open(tempDir(), { ...defaults, maxBytes: 4096 });
  const r1 = b.append(incompressible(20, 120, 's1'));
  assert.equal(r1.droppedOldest, 0);
  const r2 = b.append(incompressible(20, 120, 's2'));
  assert.ok(r2.droppedOldest > 0, 'old rows dropped');
  assert.equal(r2.stored, 20, 'every new reading stored');
  const s = b.stats();
  assert.ok(s.bytes <= 4096, `bytes ${s.bytes} within the cap`);
  const seqs = b.lease(0, 1000, 1 << 30).map((r) => r.seq);
  assert.equal(seqs[0], 41 - s.depth, 'what remains is the newest, contiguous');
  assert.equal(seqs.at(-1), 40);
  b.close();
});

test('reject-new: at the cap new readings are refused and nothing old is lost', () => {
  const b = SqliteBuffer.open(tempDir(), { ...defaults, maxBytes: 4096, whenFull: 'reject-new' });
  b.append(incompressible(20, 120, 's1'));
  const depth = b.stats().depth;
  const r = b.append(incompressible(20, 120, 's2'));
  assert.equal(r.droppedOldest, 0);
  assert.equal(r.refused.length + r.stored, 20);
  assert.ok(r.refused.length > 0);
  const rows = b.lease(0, 1000, 1 << 30);
  assert.deepEqual(
    rows.slice(0, depth).map((x) => x.seq),
    Array.from({ length: depth }, (_, i) => i + 1),
    'old rows intact',
  );
  // Refused readings never got a seq: seqs stay gap-free.
  assert.equal(b.stats().nextSeq, rows.length + 1);
  b.close();
});

test('quarantine keeps a bounded number of rows and a bounded payload prefix', () => {
  const b = SqliteBuffer.open(tempDir(), { ...defaults, quarantineMaxRows: 5 });
  for (let i = 0; i < 12; i++)
    b.append([], [{ ts: i, source: 'm', reason: 'invalid_json', detail: `n${i}`, payload: 'z'.repeat(5000) }]);
  const q = b.quarantined(100);
  assert.equal(q.length, 5);
  assert.equal(q[0]!.detail, 'n11');
  assert.equal(q[0]!.payload!.length, 1024);
  b.close();
});

test('a failed transaction rolls back rows and counters together', () => {
  const b = SqliteBuffer.open(tempDir(), defaults);
  b.append(entries(3));
  const before = b.stats();
  const bad: BufferEntry = {
    key: 'gw/s',
    ts: 1,
    encode: () => {
      throw new Error('encoder failed');
    },
  };
  assert.throws(() => b.append([...entries(2), bad]), /encoder failed/);
  assert.deepEqual(b.stats(), before);
  b.append(entries(1));
  assert.deepEqual(
    b.lease(0, 100, 1 << 20).map((r) => r.seq),
    [1, 2, 3, 4],
    'no seq burnt by the rollback',
  );
  b.close();
});

test('the WAL stays bounded under sustained writes and is folded in at close', () => {
  const dir = tempDir();
  const b = SqliteBuffer.open(dir, defaults);
  const pad = 'p'.repeat(200);
  for (let i = 0; i < 200; i++) {
    b.append(entries(500, 's1', pad));
    const rows = b.lease(0, 500, 1 << 30);
    b.ack(rows[0]!.seq, rows.at(-1)!.seq);
  }
  const wal = statSync(join(dir, 'buffer.sqlite-wal')).size;
  assert.ok(wal <= 16 * 1024 * 1024, `WAL ${wal} bytes after ~25 MB written`);
  b.close();
  assert.ok(!existsSync(join(dir, 'buffer.sqlite-wal')) || statSync(join(dir, 'buffer.sqlite-wal')).size === 0);
});

test('buffer_near_full is raised above 80 % of the cap and cleared when acks make room', () => {
  const problems: Array<string | null> = [];
  const b = SqliteBuffer.open(
    tempDir(),
    { ...defaults, maxBytes: 10_000 },
    {
      problem: (code, detail) => {
        if (code === 'buffer_near_full') problems.push(detail);
      },
    },
  );
  b.append(incompressible(10, 200, 's1'));
  assert.equal(problems.at(-1), null, 'about 30 %: fine');
  b.append(incompressible(45, 200, 's1'));
  assert.ok(b.stats().bytes > 8000 && b.stats().bytes <= 10_000);
  assert.match(problems.at(-1) ?? '', /^\d+ % of the cap \(10000 bytes\)$/);
  const rows = b.lease(0, 1000, 1 << 30);
  b.ack(rows[0]!.seq, rows.at(-1)!.seq);
  assert.equal(problems.at(-1), null);
  b.close();
});

test('anchored: not a buffer created where no seq reservation existed, until anchor(); the flag survives reopening', () => {
  const dir = tempDir();
  let b = SqliteBuffer.open(dir, defaults);
  assert.equal(b.anchored, false, 'a new data dir cannot know which seqs this gateway used');
  b.append(entries(3));
  b.close();
  b = SqliteBuffer.open(dir, defaults);
  assert.equal(b.anchored, false, 'after a clean close');
  b.append(entries(1)); // abandoned open: a crash
  b = SqliteBuffer.open(dir, defaults);
  assert.equal(b.anchored, false, 'after a crash, although the seq reservation exists by now');
  assert.equal(b.anchor(0), 0);
  assert.equal(b.anchored, true);
  b.close();
  b = SqliteBuffer.open(dir, defaults);
  assert.equal(b.anchored, true, 'anchored for good');
  b.close();
});

test('anchored: a buffer file lost beside its seq reservation, and a file of an older version', () => {
  const dir = tempDir();
  let b = SqliteBuffer.open(dir, defaults);
  b.anchor(0);
  b.append(entries(3));
  b.close();
  for (const f of [BUFFER_FILE, `${BUFFER_FILE}-wal`, `${BUFFER_FILE}-shm`, CLEAN_FILE])
    rmSync(join(dir, f), { force: true });
  b = SqliteBuffer.open(dir, defaults);
  assert.equal(b.anchored, true, 'seq.hwm still says which seqs were used');
  assert.ok(b.stats().nextSeq > 3);
  b.close();

  // An older version wrote no flag (nor, older still, any seq reservation).
  const db = new Database(join(dir, BUFFER_FILE));
  db.prepare("DELETE FROM meta WHERE k = 'anchored'").run();
  db.close();
  rmSync(join(dir, SEQ_FILE));
  b = SqliteBuffer.open(dir, defaults);
  assert.equal(b.anchored, true, 'it numbered on from its own seqs');
  b.close();
});

test('a new buffer file has small pages; a file of an older version keeps its 4 KiB pages and works on', () => {
  const pageSize = (dir: string) => {
    const db = new Database(join(dir, BUFFER_FILE), { readonly: true });
    try {
      return db.pragma('page_size', { simple: true });
    } finally {
      db.close();
    }
  };
  const fresh = tempDir();
  SqliteBuffer.open(fresh, defaults).close();
  assert.equal(pageSize(fresh), PAGE_SIZE);
  assert.ok(PAGE_SIZE < 4096);

  // As older versions created it: SQLite's default page size.
  const old = tempDir();
  const db = new Database(join(old, BUFFER_FILE));
  db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE seed (x)');
  db.close();
  let b = SqliteBuffer.open(old, defaults);
  b.append(entries(300, 's1', 'x'.repeat(100)));
  assert.equal(b.ack(1, 100), 100);
  b.close();
  b = SqliteBuffer.open(old, defaults);
  assert.deepEqual(
    b.lease(0, 1000, 1 << 30).map((r) => r.seq),
    Array.from({ length: 200 }, (_, i) => 101 + i),
  );
  b.close();
  assert.equal(pageSize(old), 4096);
});

/** Readings as ingest stores them: the record of docs/reference/kafka-records.md. */
function readings(n: number): Array<BufferEntry & { record: (seq: number) => ReadingRecord }> {
  return Array.from({ length: n }, (_, i) => {
    const record = (seq: number): ReadingRecord => ({
      gateway: 'gw',
      source: 'plc',
      sensor: `t${i % 2}`,
      metric: 'temperature',
      value: 20.1 + i / 3,
      ...(i % 2 ? { unit: 'degC' } : {}),
      ts: 1_700_000_000_000 + i,
      seq,
      bootId: 'boot',
      clockSynced: i % 3 !== 0,
    });
    return { key: recordKey('gw', `t${i % 2}`), ts: 1000 + i, record, encode: (seq) => encodeRecord(record(seq)) };
  });
}

test('the readings of a commit are one compressed row, leased as ingest wrote them', () => {
  const dir = tempDir();
  const b = SqliteBuffer.open(dir, defaults);
  const taken = readings(40);
  b.append(taken);
  const json = taken.map((t, i) => encodeRecord(t.record(i + 1)));
  assert.deepEqual(
    b.lease(0, 100, 1 << 20).map((r) => r.value),
    json,
  );
  const { depth, bytes } = b.stats();
  assert.equal(depth, 40);
  assert.equal(bytes, bytesInFile(dir), 'the cap counts readings as stored');
  assert.ok(bytes * 4 < json.join('').length, `${bytes} bytes stored for ${json.join('').length} of JSON`);
  b.close();
  const db = new Database(join(dir, BUFFER_FILE), { readonly: true });
  assert.deepEqual(db.prepare('SELECT first, last FROM batches').all(), [{ first: 1, last: 40 }]);
  db.close();
});

test('a file of an older version, a row per reading (plain or packed JSON), is upgraded when opened', () => {
  const dir = tempDir();
  const taken = readings(3);
  const json = taken.map((t, i) => encodeRecord(t.record(i + 1)));
  // As such a version left it, one reading stored without its record's field names.
  const packed =
    '{\x10"gw",\x11"plc",\x12"t0",\x13"temperature",\x1420.1,\x161700000000000,\x171,\x18"boot",\x19false}';
  writeLegacyFile(
    dir,
    taken.map((t, i) => ({ seq: i + 1, key: t.key, value: i === 0 ? packed : json[i]!, ts: t.ts })),
  );
  assert.deepEqual(
    readStats(dir),
    { depth: 3, bytes: 600, oldestTs: taken[0]!.ts, nextSeq: 4 },
    'read-only stats read it before any gateway upgraded it',
  );

  const upgraded: Array<{ readings: number }> = [];
  const b = SqliteBuffer.open(dir, defaults, { upgraded: (r) => upgraded.push(r) });
  assert.deepEqual(
    upgraded.map((u) => u.readings),
    [3],
  );
  assert.deepEqual(
    b.lease(0, 100, 1 << 20).map((r) => [r.seq, r.key, r.value, r.ts]),
    taken.map((t, i) => [i + 1, t.key, json[i], t.ts]),
  );
  const { depth, bytes, nextSeq } = b.stats();
  assert.deepEqual({ depth, bytes, nextSeq }, { depth: 3, bytes: bytesInFile(dir), nextSeq: 4 });
  assert.deepEqual(seqsInFile(dir), [1, 2, 3]);
  b.append(entries(1));
  b.close();
  const after = new Database(join(dir, BUFFER_FILE), { readonly: true });
  assert.equal(
    after.prepare("SELECT 1 FROM sqlite_master WHERE name = 'readings'").get(),
    undefined,
    'the old table is gone',
  );
  after.close();
  assert.equal(readStats(dir).depth, 4);
});

test('anchor: buffered readings at or below the floor follow it, in order, re-encoded with their new seqs', () => {
  const dir = tempDir();
  let b = SqliteBuffer.open(dir, defaults);
  const taken = readings(6);
  b.append(taken);
  b.ack(1, 2); // the oldest may be gone already: the lowest buffered seq is 3
  assert.equal(b.anchor(1000), 4);
  const rows = b.lease(0, 100, 1 << 20);
  assert.deepEqual(
    rows.map((r) => r.seq),
    [1001, 1002, 1003, 1004],
  );
  rows.forEach((r, i) => {
    assert.equal(r.value, encodeRecord(taken[i + 2]!.record(r.seq)), 'the record as ingest would have written it');
    assert.equal(r.key, taken[i + 2]!.key);
  });
  const stats = b.stats();
  assert.equal(stats.depth, 4);
  assert.equal(stats.bytes, bytesInFile(dir), 'bytes follow the rows as stored anew');
  assert.equal(stats.nextSeq, 1005);
  assert.ok(stats.seqReserved > 1004, 'the renumbered seqs are reserved');
  b.append(entries(1)); // abandoned open: a crash
  b = SqliteBuffer.open(dir, defaults);
  assert.deepEqual(
    b.lease(0, 100, 1 << 20).map((r) => r.seq),
    [1001, 1002, 1003, 1004, 1005],
    'durable, and new readings follow',
  );
  assert.equal(b.anchor(5000), 0, 'an anchored buffer is never renumbered again');
  assert.equal(b.lease(0, 1, 1 << 20)[0]!.seq, 1001);
  b.close();
});

test('anchor: readings already above the floor keep their seqs; an empty buffer moves its next seq above it', () => {
  let b = SqliteBuffer.open(tempDir(), defaults);
  b.append(entries(3));
  b.ack(1, 1);
  assert.equal(b.anchor(1), 0);
  assert.deepEqual(
    b.lease(0, 100, 1 << 20).map((r) => r.seq),
    [2, 3],
  );
  assert.equal(b.anchored, true);
  b.close();

  b = SqliteBuffer.open(tempDir(), defaults);
  assert.equal(b.anchor(70), 0);
  assert.equal(b.stats().nextSeq, 71);
  b.append(entries(1));
  assert.equal(b.lease(0, 1, 1 << 20)[0]!.seq, 71);
  b.close();
});

test('a new seq block is announced once per reservation, so the status can carry it to Kafka at once', () => {
  const marks: number[] = [];
  const b = SqliteBuffer.open(tempDir(), defaults, { seqReserved: (hw) => marks.push(hw) });
  b.anchor(0); // only an anchored buffer reserves seqs
  b.append(entries(1));
  assert.equal(marks.length, 1, 'the first reading reserves the first block');
  b.append(entries(100));
  assert.equal(marks.length, 1, 'readings inside the block reserve nothing');
  b.append(entries(10_000));
  assert.equal(marks.length, 2, 'crossing the block reserves the next');
  assert.ok(marks[1]! > marks[0]!);
  assert.ok(marks[1]! > b.stats().nextSeq - 1, 'every seq handed out is below the announced mark');
  b.close();
});
