/** A buffer file as another process (or the next start after a crash) finds it: read-only, without the buffer's code. */
import { join } from 'node:path';
import Database from 'better-sqlite3';
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
