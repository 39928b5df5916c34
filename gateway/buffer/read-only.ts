/**
 * The buffer file read without opening it for writing: what `sensorgate buffer stats` and
 * `sensorgate buffer quarantine` print, also while a gateway is running on the same data dir.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { BufferStats, QuarantinedRow } from './buffer.js';
import { BUFFER_FILE, oldestTs, QUARANTINE_ROWS, readMeta } from './schema.js';

/** The counters as the file holds them (the CLI's `buffer stats`). */
export function readStats(dataDir: string): BufferStats {
  return readOnly(
    dataDir,
    (db) => {
      const meta = readMeta(db);
      return {
        depth: meta.get('depth') ?? 0,
        bytes: meta.get('bytes') ?? 0,
        oldestTs: oldestTs(db),
        nextSeq: meta.get('next_seq') ?? 1,
      };
    },
    { depth: 0, bytes: 0, oldestTs: null, nextSeq: 1 },
  );
}

/** The newest `limit` quarantined inputs (the CLI's `buffer quarantine`). */
export function readQuarantined(dataDir: string, limit: number): QuarantinedRow[] {
  return readOnly(dataDir, (db) => db.prepare(QUARANTINE_ROWS).all(limit) as QuarantinedRow[], []);
}

/** Query a buffer file without writing to it; `empty` when no gateway has created one yet. */
function readOnly<T>(dataDir: string, query: (db: Database.Database) => T, empty: T): T {
  // No data dir, or no buffer in it yet: nothing was ever buffered there.
  if (!existsSync(join(dataDir, BUFFER_FILE))) return empty;
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
