/**
 * Model-based test of the buffer (in the spirit of Vector's disk buffer tests): random sequences of
 * append (with quarantined input and held messages), lease, ack, quarantine, advanceSeq, clean
 * close and reopen, and crash and reopen, on real SQLite files, checked after every step against
 * a plain in-memory model: the readings and their order, depth, the cap's policy, what a lease
 * returns, the quarantine, held messages, and a seq that never repeats or goes back. Readings are
 * stored compressed, so the bytes they count are not the model's to predict: they must stay under
 * the cap, agree with the file, and be what decides a refusal.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeRow, recordBytes } from '../buffer/batch-row.js';
import type { BufferEntry, BufferOptions, QuarantineEntry, SessionOp, StoredRecord } from '../buffer/buffer.js';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { bytesInFile } from './support/buffer-file.js';

const SOURCE = 'plant';

interface Model {
  opts: BufferOptions;
  /** What the buffer holds, in seq order. */
  rows: StoredRecord[];
  nextSeq: number;
  /** Quarantined input, oldest first (only the newest quarantineMaxRows are kept). */
  quarantine: Array<{ reason: string; detail: string }>;
  /** Held messages of SOURCE by id. */
  held: Map<number, string>;
}

interface Real {
  dir: string;
  buffer: SqliteBuffer;
  /** Handles of "crashed" runs: never closed while the test runs, as after a real crash. */
  crashed: SqliteBuffer[];
}

type Cmd = fc.Command<Model, Real>;

interface Reading {
  sensor: number;
  pad: number;
}

const entryOf = ({ sensor, pad }: Reading, i: number): BufferEntry => ({
  key: `gw/s${sensor}`,
  ts: 1000 + i,
  encode: (seq) => JSON.stringify({ sensor: `s${sensor}`, seq, pad: 'x'.repeat(pad) }),
});

/**
 * The buffer's view of the model: every reading, stats, held messages and the quarantine agree, and
 * the bytes counted are the file's and under the cap.
 */
function assertSame(m: Model, r: Real): void {
  const b = r.buffer;
  // First: a lease deletes the acknowledged readings that wait for the next commit.
  assert.deepEqual(b.lease(0, 1 << 30, 1 << 30), m.rows);
  const { seqReserved, bytes, ...counters } = b.stats();
  assert.deepEqual(counters, {
    depth: m.rows.length,
    oldestTs: m.rows[0]?.ts ?? null,
    nextSeq: m.nextSeq,
  });
  assert.ok(seqReserved >= m.nextSeq, `seq ${m.nextSeq - 1} was handed out, yet the reservation is ${seqReserved}`);
  assert.equal(bytes, bytesInFile(r.dir), 'bytes counted are the rows in the file');
  assert.ok(bytes <= m.opts.maxBytes, `${bytes} bytes over the cap of ${m.opts.maxBytes}`);
  assert.equal(bytes === 0, m.rows.length === 0);
  assert.deepEqual(
    b.heldMessages(SOURCE).map((h) => [h.id, h.payload.toString()]),
    [...m.held].sort(([a], [b]) => a - b),
  );
  assert.deepEqual(
    b.quarantined(1000).map((q) => [q.reason, q.detail]),
    m.quarantine.map((q) => [q.reason, q.detail]).reverse(),
  );
}

function quarantineInModel(m: Model, entries: QuarantineEntry[]): void {
  if (m.opts.quarantineMaxRows === 0) return;
  m.quarantine.push(...entries.map(({ reason, detail }) => ({ reason, detail })));
  m.quarantine.splice(0, Math.max(0, m.quarantine.length - m.opts.quarantineMaxRows));
}

let quarantineIds = 0;
const quarantineEntries = (n: number): QuarantineEntry[] =>
  Array.from({ length: n }, () => ({
    ts: 0,
    source: SOURCE,
    reason: 'invalid_json',
    detail: `q${++quarantineIds}`,
    payload: 'bad',
  }));

class Append implements Cmd {
  constructor(
    readonly readings: Reading[],
    readonly quarantined: number,
    readonly session: Array<{ hold: number } | { release: number }>,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const entries = this.readings.map(entryOf);
    const quarantine = quarantineEntries(this.quarantined);
    const session: SessionOp[] = this.session.map((s) =>
      'hold' in s
        ? { source: SOURCE, hold: { id: s.hold, topic: 't', payload: Buffer.from(`m${s.hold}`) } }
        : { source: SOURCE, release: s.release },
    );
    quarantineInModel(m, quarantine);
    for (const s of this.session) {
      if ('hold' in s) m.held.set(s.hold, `m${s.hold}`);
      else m.held.delete(s.release);
    }
    const depth = m.rows.length;
    const got = r.buffer.append(entries, quarantine, session);
    // The model: the readings stored take the next seqs in order, and what is refused is the rest.
    // Drop-oldest makes room by deleting from the old end and refuses only a reading that alone
    // is over the cap; reject-new never deletes, and refuses once the next reading does not fit.
    assert.deepEqual(got.refused, entries.slice(got.stored));
    assert.ok(got.droppedOldest <= depth);
    m.rows.splice(0, got.droppedOldest);
    for (const e of entries.slice(0, got.stored)) {
      const value = e.encode(m.nextSeq);
      m.rows.push({ seq: m.nextSeq++, key: e.key, value, ts: e.ts, bytes: recordBytes(e.key, value) });
    }
    const next = entries[got.stored];
    if (next) {
      const alone = encodeRow(m.nextSeq, [{ ...next, value: next.encode(m.nextSeq) }]).bytes;
      const room = m.opts.maxBytes - (m.opts.whenFull === 'drop-oldest' ? 0 : r.buffer.stats().bytes);
      assert.ok(alone > room, `refused a reading of ${alone} bytes with ${room} bytes of room`);
    }
    if (m.opts.whenFull === 'reject-new') assert.equal(got.droppedOldest, 0);
    assertSame(m, r);
  }
  toString = () =>
    `append(${JSON.stringify(this.readings)}, quarantine ${this.quarantined}, ${JSON.stringify(this.session)})`;
}

/** A seq to start from: 0, one of the rows', or the next one, moved by `shift`. */
function pickSeq(m: Model, pick: number, shift: number): number {
  const candidates = [0, ...m.rows.map((row) => row.seq), m.nextSeq];
  return Math.max(0, candidates[pick % candidates.length]! + shift);
}

class Lease implements Cmd {
  constructor(
    readonly pick: number,
    readonly shift: number,
    readonly maxRecords: number,
    readonly maxBytes: number,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const after = pickSeq(m, this.pick, this.shift);
    // In seq order after `after`, at most maxRecords, and within maxBytes (counting the records'
    // JSON, as Kafka gets them) but never empty.
    const expected: StoredRecord[] = [];
    let total = 0;
    for (const row of m.rows.filter((x) => x.seq > after).slice(0, this.maxRecords)) {
      total += row.bytes;
      if (total > this.maxBytes && expected.length > 0) break;
      expected.push(row);
    }
    assert.deepEqual(r.buffer.lease(after, this.maxRecords, this.maxBytes), expected);
  }
  toString = () =>
    `lease(pick ${this.pick}${this.shift >= 0 ? '+' : ''}${this.shift}, ${this.maxRecords}, ${this.maxBytes})`;
}

class Ack implements Cmd {
  constructor(
    readonly pick: number,
    readonly shift: number,
    readonly span: number,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const from = pickSeq(m, this.pick, this.shift);
    const to = from + this.span;
    const gone = m.rows.filter((row) => row.seq >= from && row.seq <= to);
    m.rows = m.rows.filter((row) => !gone.includes(row));
    assert.equal(r.buffer.ack(from, to), gone.length);
    assertSame(m, r);
  }
  toString = () => `ack(pick ${this.pick}${this.shift >= 0 ? '+' : ''}${this.shift}, span ${this.span})`;
}

class Quarantine implements Cmd {
  constructor(readonly n: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const entries = quarantineEntries(this.n);
    quarantineInModel(m, entries);
    r.buffer.quarantine(entries);
    assertSame(m, r);
  }
  toString = () => `quarantine(${this.n})`;
}

/** What the forwarder does when Kafka has committed more than the buffer knows of. */
class AdvanceSeq implements Cmd {
  constructor(readonly by: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const min = m.nextSeq + this.by;
    m.nextSeq = Math.max(m.nextSeq, min);
    r.buffer.advanceSeq(min);
    assertSame(m, r);
  }
  toString = () => `advanceSeq(next ${this.by >= 0 ? '+' : ''}${this.by})`;
}

/**
 * Close cleanly (or crash: the handle is abandoned, open) and open the data dir again: everything
 * is still there. After a clean close seqs stay dense; after a crash they may jump ahead (to the
 * reserved high-water mark), never back.
 */
class Reopen implements Cmd {
  constructor(readonly crash: boolean) {}
  check = () => true;
  run(m: Model, r: Real): void {
    if (this.crash) r.crashed.push(r.buffer);
    else r.buffer.close();
    r.buffer = SqliteBuffer.open(r.dir, m.opts);
    const next = r.buffer.stats().nextSeq;
    if (this.crash) assert.ok(next >= m.nextSeq, `next seq ${next} went back from ${m.nextSeq}`);
    m.nextSeq = next;
    assertSame(m, r);
  }
  toString = () => (this.crash ? 'crash+reopen' : 'close+reopen');
}

const reading = fc.record({
  sensor: fc.integer({ min: 0, max: 2 }),
  // Mostly small; now and then one larger than the small cap.
  pad: fc.oneof(
    { weight: 9, arbitrary: fc.integer({ min: 0, max: 300 }) },
    { weight: 1, arbitrary: fc.constant(3000) },
  ),
});
const sessionOp = fc.oneof(
  fc.record({ hold: fc.integer({ min: 1, max: 5 }) }),
  fc.record({ release: fc.integer({ min: 1, max: 5 }) }),
);
const commands = fc.commands(
  [
    fc
      .tuple(
        fc.array(reading, { maxLength: 12 }),
        fc.integer({ min: 0, max: 2 }),
        fc.array(sessionOp, { maxLength: 3 }),
      )
      .map(([readings, q, session]) => new Append(readings, q, session)),
    fc
      .tuple(
        fc.nat(),
        fc.integer({ min: -1, max: 1 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 2000 }),
      )
      .map(([pick, shift, n, bytes]) => new Lease(pick, shift, n, bytes)),
    fc
      .tuple(fc.nat(), fc.integer({ min: -1, max: 1 }), fc.integer({ min: 0, max: 6 }))
      .map(([pick, shift, span]) => new Ack(pick, shift, span)),
    fc.integer({ min: 1, max: 3 }).map((n) => new Quarantine(n)),
    fc.integer({ min: -3, max: 50 }).map((by) => new AdvanceSeq(by)),
    fc.boolean().map((crash) => new Reopen(crash)),
  ],
  // Long runs (about 25 steps on average): the default size makes about five.
  { maxCommands: 50, size: 'max' },
);
const options = fc.record({
  maxBytes: fc.constantFrom(2000, 1 << 20),
  whenFull: fc.constantFrom('drop-oldest' as const, 'reject-new' as const),
  synchronous: fc.constant('NORMAL' as const),
  quarantineMaxRows: fc.constantFrom(0, 3, 100),
});

test('model: the buffer under random appends, leases, acks, quarantine, seq advances, reopens and crashes', () => {
  fc.assert(
    fc.property(options, commands, (opts, cmds) => {
      const dir = mkdtempSync(join(tmpdir(), 'sg-model-'));
      // Anchored, as the forwarder leaves a new buffer before anything is sent (seqs are then final).
      const buffer = SqliteBuffer.open(dir, opts);
      buffer.anchor(0);
      const real: Real = { dir, buffer, crashed: [] };
      try {
        fc.modelRun(
          () => ({
            model: { opts, rows: [], nextSeq: 1, quarantine: [], held: new Map() },
            real,
          }),
          cmds,
        );
      } finally {
        for (const b of [real.buffer, ...real.crashed]) b.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 150 },
  );
});
