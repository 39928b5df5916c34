/**
 * The buffer file's layout: its pragmas (WAL, synchronous, a small cache, a bounded WAL), its
 * tables, and the statements prepared on it. What the statements mean for the buffer's counters
 * is sqlite-buffer.ts.
 */
import Database from 'better-sqlite3';
import { LEGACY_TABLE } from './legacy-rows.js';

export const QUARANTINE_ROWS =
  'SELECT id, ts, source, reason, detail, payload FROM quarantine ORDER BY id DESC LIMIT ?';

/** The buffer's SQLite file in the data dir (with its -wal and -shm). */
export const BUFFER_FILE = 'buffer.sqlite';

/** Page size of a new buffer file (see prepare()). */
export const PAGE_SIZE = 1024;

/** The prepared statements of one open buffer file. */
export interface Statements {
  db: Database.Database;
  /** A row (see batch-row.ts): first, last, ts, bytes, body. */
  insert: Database.Statement;
  setMeta: Database.Statement;
  oldest: Database.Statement;
  /** The first seq of the row that holds a seq, if a row starts at or below it (MAX(first) is null otherwise). */
  startOf: Database.Statement;
  /** The row starting at or below a seq that comes last (it holds the seq if its last is not below it). */
  holding: Database.Statement;
  /** Readings and bytes of the rows wholly within from..to (arguments: from, to, to). */
  wholeSize: Database.Statement;
  /** Delete the rows wholly within from..to (arguments: from, to, to). */
  deleteWhole: Database.Statement;
  deleteRow: Database.Statement;
  /** Rows from a first seq up to a seq, in seq order. */
  rowsFrom: Database.Statement;
  /** The first row from a first seq on that holds a seq above a seq. */
  firstFrom: Database.Statement;
  quarantine: Database.Statement;
  trimQuarantine: Database.Statement;
  quarantineRows: Database.Statement;
  hold: Database.Statement;
  release: Database.Statement;
  held: Database.Statement;
  lowestSeq: Database.Statement;
  /** Rows starting below a seq, highest first, up to a number of them. */
  below: Database.Statement;
  /** Give the row starting at the last argument new first, last, bytes and body. */
  renumber: Database.Statement;
}

export interface FileSettings {
  synchronous: 'FULL' | 'NORMAL' | 'OFF';
  /** WAL bytes between automatic checkpoints (see DiskSpace). */
  walBytes: number;
}

/**
 * Open (or create) a buffer file and prepare its statements; the file is closed again if that fails.
 * `anchoredIfNew`: whether a file created now counts as anchored (see SqliteBuffer.anchor()).
 */
export function openBufferFile(file: string, settings: FileSettings, anchoredIfNew: boolean): Statements {
  const db = new Database(file);
  try {
    return prepare(db, settings, anchoredIfNew);
  } catch (err) {
    try {
      db.close();
    } catch {
      /* already failing */
    }
    throw err;
  }
}

/**
 * The meta table: the counters next_seq, depth and bytes, and `anchored` (1: the seqs here follow
 * every seq Kafka may already hold of this gateway; 0: a buffer that started afresh and has not
 * learnt that yet, see SqliteBuffer.anchor()).
 */
export function readMeta(db: Database.Database): Map<string, number> {
  return new Map((db.prepare('SELECT k, v FROM meta').all() as { k: string; v: number }[]).map((r) => [r.k, r.v]));
}

function prepare(db: Database.Database, settings: FileSettings, anchoredIfNew: boolean): Statements {
  // Both only take effect on a new file; a file of an older version keeps its 4 KiB pages.
  // Small pages: at a steady few hundred readings a second a commit holds a few dozen readings,
  // and every page it touches goes to the WAL whole: the half-filled last page of the rows, the
  // b-tree's root, the header, the meta row, the pointer map. With 1 KiB pages, commits of 50
  // readings wrote 690 bytes per reading to flash instead of 1,240.
  db.pragma(`page_size = ${PAGE_SIZE}`);
  // Lets a full disk get pages back (see release()).
  db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${settings.synchronous}`);
  // A queue appends at one end and reads at the other: a small page cache is enough, and it
  // keeps memory low on small devices and reads close to what the file really holds.
  db.pragma('cache_size = -512');
  // Bound the WAL: checkpoint every ~4 MiB of pages (fewer for a small cap or disk, see
  // DiskSpace) and truncate the file back after a checkpoint, so a burst does not leave a huge
  // WAL on flash.
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.pragma(`wal_autocheckpoint = ${Math.ceil(settings.walBytes / pageSize)}`);
  db.pragma(`journal_size_limit = ${settings.walBytes * 4}`);
  // A meta table without the `anchored` flag was written by an older version, which numbered on
  // from its own seqs: anchored. One transaction, so that a crash while a file is created cannot
  // leave a meta table that looks like such an older one.
  db.transaction(() => {
    const upgrading = hasTable(db, 'meta');
    createTables(db);
    db.prepare("INSERT OR IGNORE INTO meta VALUES ('anchored', ?)").run(upgrading || anchoredIfNew ? 1 : 0);
  })();
  const row = 'first, last, ts, bytes, body';
  return {
    db,
    insert: db.prepare(`INSERT INTO batches (${row}) VALUES (?, ?, ?, ?, ?)`),
    setMeta: db.prepare('UPDATE meta SET v = ? WHERE k = ?'),
    oldest: db.prepare(`SELECT ${row} FROM batches ORDER BY first LIMIT 1`),
    startOf: db.prepare('SELECT MAX(first) AS first FROM batches WHERE first <= ?'),
    holding: db.prepare(`SELECT ${row} FROM batches WHERE first <= ? ORDER BY first DESC LIMIT 1`),
    wholeSize: db.prepare(
      'SELECT COALESCE(SUM(last - first + 1), 0) AS n, COALESCE(SUM(bytes), 0) AS b FROM batches WHERE first BETWEEN ? AND ? AND last <= ?',
    ),
    deleteWhole: db.prepare('DELETE FROM batches WHERE first BETWEEN ? AND ? AND last <= ?'),
    deleteRow: db.prepare('DELETE FROM batches WHERE first = ?'),
    rowsFrom: db.prepare('SELECT first, last, body FROM batches WHERE first BETWEEN ? AND ? ORDER BY first'),
    firstFrom: db.prepare(`SELECT ${row} FROM batches WHERE first >= ? AND last > ? ORDER BY first LIMIT 1`),
    quarantine: db.prepare('INSERT INTO quarantine (ts, source, reason, detail, payload) VALUES (?, ?, ?, ?, ?)'),
    trimQuarantine: db.prepare('DELETE FROM quarantine WHERE id <= (SELECT MAX(id) FROM quarantine) - ?'),
    quarantineRows: db.prepare(QUARANTINE_ROWS),
    hold: db.prepare('INSERT OR REPLACE INTO held_messages (source, id, topic, payload) VALUES (?, ?, ?, ?)'),
    release: db.prepare('DELETE FROM held_messages WHERE source = ? AND id = ?'),
    held: db.prepare('SELECT id, topic, payload FROM held_messages WHERE source = ? ORDER BY id'),
    lowestSeq: db.prepare('SELECT MIN(first) AS seq FROM batches'),
    below: db.prepare(`SELECT ${row} FROM batches WHERE first < ? ORDER BY first DESC LIMIT ?`),
    renumber: db.prepare('UPDATE batches SET first = ?, last = ?, bytes = ?, body = ? WHERE first = ?'),
  };
}

/** The ts of the oldest reading in the file (null when it holds none). */
export function oldestTs(db: Database.Database): number | null {
  const query = (sql: string) => (db.prepare(sql).get() as { ts: number } | undefined)?.ts ?? null;
  // A file of an older version keeps its readings in LEGACY_TABLE until a gateway of this version
  // opens it and moves them, oldest first, into batches.
  const oldest = hasTable(db, 'batches') ? query('SELECT ts FROM batches ORDER BY first LIMIT 1') : null;
  if (oldest !== null || !hasTable(db, LEGACY_TABLE)) return oldest;
  return query(`SELECT ts FROM ${LEGACY_TABLE} ORDER BY seq LIMIT 1`);
}

export function hasTable(db: Database.Database, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

function createTables(db: Database.Database): void {
  db.exec(`
      -- Readings first..last, compressed together (batch-row.ts).
      CREATE TABLE IF NOT EXISTS batches (
        first INTEGER PRIMARY KEY,
        last  INTEGER NOT NULL,
        ts    INTEGER NOT NULL,  -- the first reading's
        bytes INTEGER NOT NULL,  -- counted against the cap
        body  BLOB NOT NULL
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
}
