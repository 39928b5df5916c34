/** A buffer file as another process (or the next start after a crash) finds it: read-only, without the buffer's code. */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { BufferEntry } from '../../buffer/buffer.js';
import { BUFFER_FILE } from '../../buffer/schema.js';

function query<T>(dataDir: string, read: (db: Database.Database) => T): T {
  const db = new Database(join(dataDir, BUFFER_FILE), { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** The seqs of the readings in the file, in order. */
export function seqsInFile(dataDir: string): number[] {
  return query(dataDir, (db) =>
    (db.prepare('SELECT first, last FROM batches ORDER BY first').all() as { first: number; last: number }[]).flatMap(
      (r) => Array.from({ length: r.last - r.first + 1 }, (_, i) => r.first + i),
    ),
  );
}

/** The bytes the rows in the file count against the cap. */
export function bytesInFile(dataDir: string): number {
  return query(
    dataDir,
    (db) => (db.prepare('SELECT COALESCE(SUM(bytes), 0) AS b FROM batches').get() as { b: number }).b,
  );
}

/** A reading as a legacy row holds it; `value` is the record's JSON, whole or packed. */
export interface LegacyReading {
  seq: number;
  key: string;
  value: string;
  ts: number;
}

/**
 * A buffer file as a version before row batches left it: a row per reading in `readings`, and the
 * counters in `meta` (its `bytes` counted 200 a reading here).
 */
export function writeLegacyFile(dataDir: string, readings: LegacyReading[]): void {
  const db = new Database(join(dataDir, BUFFER_FILE));
  try {
    db.pragma('journal_mode = WAL');
    db.exec(`
      CREATE TABLE readings (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, value TEXT NOT NULL, ts INTEGER NOT NULL, bytes INTEGER NOT NULL);
      CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;`);
    const next = (readings.at(-1)?.seq ?? 0) + 1;
    db.prepare("INSERT INTO meta VALUES ('next_seq', ?), ('depth', ?), ('bytes', ?), ('anchored', 1)").run(
      next,
      readings.length,
      readings.length * 200,
    );
    const insert = db.prepare('INSERT INTO readings VALUES (?, ?, ?, ?, 200)');
    db.transaction(() => {
      for (const r of readings) insert.run(r.seq, r.key, r.value, r.ts);
    })();
  } finally {
    db.close();
  }
}

/**
 * Readings that do not compress: `bytes` bytes of noise each, so that they take about as much room
 * in the file as uncompressed readings would (readings are stored compressed).
 */
export function incompressible(n: number, bytes: number, sensor = 's'): BufferEntry[] {
  return Array.from({ length: n }, (_, i) => {
    const pad = randomBytes(bytes).toString('base64');
    return { key: `gw/${sensor}`, ts: 1000 + i, encode: (seq: number) => JSON.stringify({ seq, pad }) };
  });
}
