/**
 * The durable buffer: every reading the gateway accepts lives here until Kafka acknowledged it.
 *
 * - One SQLite file in WAL mode; `synchronous=FULL` by default so that a committed transaction
 *   survives a power cut. Callers group many readings per transaction (see ingest.ts), which keeps
 *   fsyncs per second bounded and flash wear low.
 * - `seq` comes from a persisted counter, not from rowid allocation, so it is never reused even
 *   when the buffer drains completely and the gateway restarts.
 * - Everything (lease, ack, drop, expiry) is by seq. Wall-clock time is stored for information
 *   only: a clock jump can neither delete nor reorder data.
 * - depth and bytes are kept in the meta table inside the same transactions, so opening a full
 *   1 GiB buffer does not scan it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export interface BufferOptions {
  maxBytes: number;
  whenFull: 'drop-oldest' | 'reject-new';
  synchronous: 'FULL' | 'NORMAL' | 'OFF';
  quarantineMaxRows: number;
}

/** A reading as the buffer stores it: the Kafka key, and the record value built once its seq is known. */
export interface BufferEntry {
  key: string;
  ts: number;
  encode(seq: number): string;
}

export interface QuarantineEntry {
  ts: number;
  source: string;
  reason: string;
  detail: string;
  payload?: Uint8Array | string;
}

/** A source's held messages (see HeldMessage in drivers/driver.ts): to hold, or to forget. */
export interface SessionOp {
  source: string;
  hold?: { id: number; topic: string; payload: Uint8Array };
  release?: number;
}

export interface StoredRecord {
  seq: number;
  key: string;
  value: string;
  ts: number;
  bytes: number;
}

export interface BufferStats {
  depth: number;
  bytes: number;
  oldestTs: number | null;
  nextSeq: number;
}

export interface AppendResult {
  /** Readings stored. */
  stored: number;
  /** Oldest readings deleted to make room (drop-oldest). */
  droppedOldest: number;
  /** New readings refused because the buffer was full (reject-new, or one larger than the cap). */
  refused: BufferEntry[];
}

/** Quarantined payloads are kept for diagnosis, not for replay: a prefix is enough. */
const QUARANTINE_PAYLOAD_BYTES = 1024;
/** Fixed per-row overhead counted against maxBytes, so many tiny rows cannot overrun the cap. */
const ROW_OVERHEAD = 24;

export const BUFFER_FILE = 'buffer.sqlite';
const QUARANTINE_ROWS = 'SELECT id, ts, source, reason, detail, payload FROM quarantine ORDER BY id DESC LIMIT ?';

export interface QuarantinedRow { id: number; ts: number; source: string; reason: string; detail: string; payload: Buffer | null }

/** Query a buffer file without writing to it; `empty` when no gateway has created one yet. */
function readOnly<T>(dataDir: string, query: (db: Database.Database) => T, empty: T): T {
  let db: Database.Database;
  try {
    db = new Database(join(dataDir, BUFFER_FILE), { readonly: true, fileMustExist: true });
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_CANTOPEN') return empty;
    throw err;
  }
  try {
    return query(db);
  } finally {
    db.close();
  }
}

export class SqliteBuffer {
  private readonly db: Database.Database;
  private nextSeq: number;
  private depth: number;
  private bytes: number;
  private readonly stmt;
  private readonly appendTx: (entries: BufferEntry[], quarantine: QuarantineEntry[], session: SessionOp[]) => AppendResult;
  private readonly ackTx: (from: number, to: number) => number;
  private readonly quarantineTx: (entries: QuarantineEntry[]) => void;
  private readonly quarantineOnlyTx: (entries: QuarantineEntry[]) => void;

  static open(dataDir: string, opts: BufferOptions): SqliteBuffer {
    mkdirSync(dataDir, { recursive: true });
    return new SqliteBuffer(new Database(join(dataDir, BUFFER_FILE)), opts);
  }

  /** Read-only view for `sensorgate buffer stats` while a gateway may be running. */
  static stats(dataDir: string): BufferStats {
    return readOnly(dataDir, (db) => {
      const meta = new Map((db.prepare('SELECT k, v FROM meta').all() as { k: string; v: number }[]).map((r) => [r.k, r.v]));
      const oldest = db.prepare('SELECT ts FROM readings ORDER BY seq LIMIT 1').get() as { ts: number } | undefined;
      return { depth: meta.get('depth') ?? 0, bytes: meta.get('bytes') ?? 0, oldestTs: oldest?.ts ?? null, nextSeq: meta.get('next_seq') ?? 1 };
    }, { depth: 0, bytes: 0, oldestTs: null, nextSeq: 1 });
  }

  /** Read-only view for `sensorgate buffer quarantine`. */
  static quarantined(dataDir: string, limit: number): QuarantinedRow[] {
    return readOnly(dataDir, (db) => db.prepare(QUARANTINE_ROWS).all(limit) as QuarantinedRow[], []);
  }

  private constructor(db: Database.Database, private readonly opts: BufferOptions) {
    this.db = db;
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${opts.synchronous}`);
    // Bound the WAL: checkpoint every ~4 MiB of pages (SQLite's default 1000) and truncate the
    // file back to 16 MiB after a checkpoint, so a burst does not leave a huge WAL on flash.
    db.pragma('wal_autocheckpoint = 1000');
    db.pragma(`journal_size_limit = ${16 * 1024 * 1024}`);
    db.exec(`
      CREATE TABLE IF NOT EXISTS readings (
        seq   INTEGER PRIMARY KEY,
        key   TEXT NOT NULL,
        value TEXT NOT NULL,
        ts    INTEGER NOT NULL,
        bytes INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;
      INSERT OR IGNORE INTO meta VALUES ('next_seq', 1), ('depth', 0), ('bytes', 0);
      CREATE TABLE IF NOT EXISTS quarantine (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        ts      INTEGER NOT NULL,
        source  TEXT NOT NULL,
        reason  TEXT NOT NULL,
        detail  TEXT NOT NULL,
        payload BLOB
      );
      -- Messages a source acknowledged receiving and has not yet taken in (MQTT QoS 2 between
      -- PUBREC and PUBREL): the broker will not send them again, so they must survive a crash.
      CREATE TABLE IF NOT EXISTS held_messages (
        source  TEXT NOT NULL,
        id      INTEGER NOT NULL,
        topic   TEXT NOT NULL,
        payload BLOB NOT NULL,
        PRIMARY KEY (source, id)
      ) WITHOUT ROWID;
    `);
    const meta = new Map((db.prepare('SELECT k, v FROM meta').all() as { k: string; v: number }[]).map((r) => [r.k, r.v]));
    this.nextSeq = meta.get('next_seq')!;
    this.depth = meta.get('depth')!;
    this.bytes = meta.get('bytes')!;

    this.stmt = {
      insert: db.prepare('INSERT INTO readings (seq, key, value, ts, bytes) VALUES (?, ?, ?, ?, ?)'),
      setMeta: db.prepare('UPDATE meta SET v = ? WHERE k = ?'),
      oldestRows: db.prepare('SELECT seq, bytes FROM readings ORDER BY seq LIMIT ?'),
      deleteUpTo: db.prepare('DELETE FROM readings WHERE seq <= ?'),
      rangeSize: db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM readings WHERE seq BETWEEN ? AND ?'),
      deleteRange: db.prepare('DELETE FROM readings WHERE seq BETWEEN ? AND ?'),
      lease: db.prepare('SELECT seq, key, value, ts, bytes FROM readings WHERE seq > ? ORDER BY seq LIMIT ?'),
      oldestTs: db.prepare('SELECT ts FROM readings ORDER BY seq LIMIT 1'),
      quarantine: db.prepare('INSERT INTO quarantine (ts, source, reason, detail, payload) VALUES (?, ?, ?, ?, ?)'),
      trimQuarantine: db.prepare('DELETE FROM quarantine WHERE id <= (SELECT MAX(id) FROM quarantine) - ?'),
      quarantineRows: db.prepare(QUARANTINE_ROWS),
      hold: db.prepare('INSERT OR REPLACE INTO held_messages (source, id, topic, payload) VALUES (?, ?, ?, ?)'),
      release: db.prepare('DELETE FROM held_messages WHERE source = ? AND id = ?'),
      held: db.prepare('SELECT id, topic, payload FROM held_messages WHERE source = ? ORDER BY id'),
    };

    this.quarantineTx = (entries) => {
      if (entries.length === 0 || this.opts.quarantineMaxRows === 0) return;
      for (const q of entries) {
        const payload = q.payload === undefined ? null
          : (typeof q.payload === 'string' ? Buffer.from(q.payload) : Buffer.from(q.payload.buffer, q.payload.byteOffset, q.payload.length))
            .subarray(0, QUARANTINE_PAYLOAD_BYTES);
        this.stmt.quarantine.run(q.ts, q.source, q.reason, q.detail, payload);
      }
      this.stmt.trimQuarantine.run(this.opts.quarantineMaxRows);
    };

    this.quarantineOnlyTx = db.transaction(this.quarantineTx);

    this.appendTx = db.transaction((entries: BufferEntry[], quarantine: QuarantineEntry[], session: SessionOp[]) => {
      const result: AppendResult = { stored: 0, droppedOldest: 0, refused: [] };
      this.quarantineTx(quarantine);
      for (const op of session) {
        if (op.hold) this.stmt.hold.run(op.source, op.hold.id, op.hold.topic, Buffer.from(op.hold.payload.buffer, op.hold.payload.byteOffset, op.hold.payload.length));
        if (op.release !== undefined) this.stmt.release.run(op.source, op.release);
      }
      for (const e of entries) {
        const seq = this.nextSeq;
        const value = e.encode(seq);
        const size = Buffer.byteLength(e.key) + Buffer.byteLength(value) + ROW_OVERHEAD;
        if (this.bytes + size > this.opts.maxBytes) {
          if (this.opts.whenFull === 'reject-new' || size > this.opts.maxBytes) { result.refused.push(e); continue; }
          result.droppedOldest += this.makeRoom(size);
        }
        this.stmt.insert.run(seq, e.key, value, e.ts, size);
        this.nextSeq = seq + 1;
        this.depth++;
        this.bytes += size;
        result.stored++;
      }
      this.saveMeta();
      return result;
    }) as typeof this.appendTx;

    this.ackTx = db.transaction((from: number, to: number) => {
      // Summed in SQLite: cheaper than RETURNING a JS object per row of a 5000-row batch.
      const { n, b } = this.stmt.rangeSize.get(from, to) as { n: number; b: number };
      this.stmt.deleteRange.run(from, to);
      this.bytes -= b;
      this.depth -= n;
      this.saveMeta();
      return n;
    }) as typeof this.ackTx;
  }

  private saveMeta(): void {
    this.stmt.setMeta.run(this.nextSeq, 'next_seq');
    this.stmt.setMeta.run(this.depth, 'depth');
    this.stmt.setMeta.run(this.bytes, 'bytes');
  }

  /** Delete the oldest rows until `size` more bytes fit. Returns how many were dropped. */
  private makeRoom(size: number): number {
    let dropped = 0;
    while (this.bytes + size > this.opts.maxBytes && this.depth > 0) {
      const rows = this.stmt.oldestRows.all(256) as { seq: number; bytes: number }[];
      let upTo = 0;
      for (const r of rows) {
        this.bytes -= r.bytes;
        this.depth--;
        dropped++;
        upTo = r.seq;
        if (this.bytes + size <= this.opts.maxBytes) break;
      }
      this.stmt.deleteUpTo.run(upTo);
    }
    return dropped;
  }

  /** Store readings, quarantined input and held-message changes in one transaction (one fsync). */
  append(entries: BufferEntry[], quarantine: QuarantineEntry[] = [], session: SessionOp[] = []): AppendResult {
    return this.keepCountersOnRollback(() => this.appendTx(entries, quarantine, session));
  }

  /** The messages `source` holds (see SessionOp). */
  heldMessages(source: string): Array<{ id: number; topic: string; payload: Buffer }> {
    return this.stmt.held.all(source) as Array<{ id: number; topic: string; payload: Buffer }>;
  }

  /** Store quarantined input on its own (e.g. a record Kafka refused). */
  quarantine(entries: QuarantineEntry[]): void {
    this.quarantineOnlyTx(entries);
  }

  /** The next records after `afterSeq`, in seq order, up to the limits (at least one record). */
  lease(afterSeq: number, maxRecords: number, maxBytes: number): StoredRecord[] {
    const rows = this.stmt.lease.all(afterSeq, maxRecords) as StoredRecord[];
    let total = 0;
    for (let i = 0; i < rows.length; i++) {
      total += rows[i]!.bytes;
      if (total > maxBytes && i > 0) return rows.slice(0, i);
    }
    return rows;
  }

  /** Kafka acknowledged seqs from..to: delete them. Returns how many rows went. */
  ack(fromSeq: number, toSeq: number): number {
    return this.keepCountersOnRollback(() => this.ackTx(fromSeq, toSeq));
  }

  /** A failed transaction (disk full, I/O error) rolls the file back; roll the counters back too. */
  private keepCountersOnRollback<T>(tx: () => T): T {
    const { nextSeq, depth, bytes } = this;
    try {
      return tx();
    } catch (err) {
      Object.assign(this, { nextSeq, depth, bytes });
      throw err;
    }
  }

  /** Make sure the next seq is at least `min` (never reuse a seq Kafka already has). */
  advanceSeq(min: number): void {
    if (this.nextSeq >= min) return;
    this.nextSeq = min;
    this.stmt.setMeta.run(min, 'next_seq');
  }

  stats(): BufferStats {
    const oldest = this.stmt.oldestTs.get() as { ts: number } | undefined;
    return { depth: this.depth, bytes: this.bytes, oldestTs: oldest?.ts ?? null, nextSeq: this.nextSeq };
  }

  quarantined(limit = 100): QuarantinedRow[] {
    return this.stmt.quarantineRows.all(limit) as QuarantinedRow[];
  }

  /** Fold the WAL back into the database and truncate it (idle time, shutdown). */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  close(): void {
    if (!this.db.open) return;
    this.checkpoint();
    this.db.close();
  }
}
