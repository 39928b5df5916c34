/**
 * One gateway per data dir. Two gateways on one buffer would each number readings from their own
 * counter, giving one seq to two readings (a consumer that deduplicates on it drops one), and both
 * would send the same rows; an operator starting `sensorgate run` by hand while the service runs
 * does exactly that. The lock is SQLite's exclusive lock on an empty file beside the buffer, taken
 * without writing a byte (a full disk does not stop it) and held while the gateway runs: the
 * operating system lets go of it when the process ends, by kill -9 or a power cut too, so it never
 * needs clearing by hand. The read-only `sensorgate buffer` commands do not take it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

export const LOCK_FILE = 'gateway.lock';

/** Take the data dir's lock, or throw naming the data dir; returns the release. */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  // timeout 0: a lock held by another process is an answer now, not something to wait for.
  const db = new Database(join(dataDir, LOCK_FILE), { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
    throw new Error(
      `${dataDir} is in use by another sensorgate process (it holds ${LOCK_FILE}); stop that one first (systemctl stop sensorgate)`,
    );
  }
  return () => db.close();
}
