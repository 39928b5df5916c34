/**
 * The buffer file's layout: its pragmas (WAL, synchronous, a small cache, a bounded WAL), its
 * tables, and the statements prepared on it. What the statements mean for the buffer's counters
 * is sqlite-buffer.ts.
 */
import Database from 'better-sqlite3';

export const OLDEST_TS = 'SELECT ts FROM readings ORDER BY seq LIMIT 1';
export const QUARANTINE_ROWS =
  'SELECT id, ts, source, reason, detail, payload FROM quarantine ORDER BY id DESC LIMIT ?';

/**
 * Rows per multi-row INSERT. A statement per row cost about 1.4 times the CPU per row of one per
 * 64 rows (each run binds, steps and resets a statement); many more rows gain little and take
 * more parameters than old SQLite builds allow (999).
 */
const INSERT_ROWS = 64;
/** Columns of a readings row as insert statements take them: seq, key, value, ts, bytes. */
const ROW_COLUMNS = 5;
/** Values of this many rows make a full insertRows() batch. */
export const INSERT_VALUES = INSERT_ROWS * ROW_COLUMNS;

/** The buffer's SQLite file in the data dir (with its -wal and -shm). */
export const BUFFER_FILE = 'buffer.sqlite';

/** Page size of a new buffer file (see prepare()). */
export const PAGE_SIZE = 1024;

/** The prepared statements of one open buffer file. */
export interface Statements {
  db: Database.Database;
  insert: Database.Statement;
  /** INSERT_ROWS rows at once; see insertRows(). */
  insertMany: Database.Statement;
  setMeta: Database.Statement;
  oldestRows: Database.Statement;
  deleteUpTo: Database.Statement;
  rangeSize: Database.Statement;
  deleteRange: Database.Statement;
  lease: Database.Statement;
  /** The first row after a seq (seq, ts). */
  firstAfter: Database.Statement;
  quarantine: Database.Statement;
  trimQuarantine: Database.Statement;
  quarantineRows: Database.Statement;
  hold: Database.Statement;
  release: Database.Statement;
  held: Database.Statement;
  lowestSeq: Database.Statement;
  below: Database.Statement;
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
    const upgrading = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
    createTables(db);
    db.prepare("INSERT OR IGNORE INTO meta VALUES ('anchored', ?)").run(upgrading || anchoredIfNew ? 1 : 0);
  })();
  return {
    db,
    insert: db.prepare('INSERT INTO readings (seq, key, value, ts, bytes) VALUES (?, ?, ?, ?, ?)'),
    insertMany: db.prepare(
      `INSERT INTO readings (seq, key, value, ts, bytes) VALUES ${Array(INSERT_ROWS).fill('(?, ?, ?, ?, ?)').join(', ')}`,
    ),
    setMeta: db.prepare('UPDATE meta SET v = ? WHERE k = ?'),
    oldestRows: db.prepare('SELECT seq, bytes FROM readings ORDER BY seq LIMIT ?'),
    deleteUpTo: db.prepare('DELETE FROM readings WHERE seq <= ?'),
    rangeSize: db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM readings WHERE seq BETWEEN ? AND ?'),
    deleteRange: db.prepare('DELETE FROM readings WHERE seq BETWEEN ? AND ?'),
    lease: db.prepare(
      'SELECT seq, key, value, ts, bytes FROM readings WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?',
    ),
    firstAfter: db.prepare('SELECT seq, ts FROM readings WHERE seq > ? ORDER BY seq LIMIT 1'),
    quarantine: db.prepare('INSERT INTO quarantine (ts, source, reason, detail, payload) VALUES (?, ?, ?, ?, ?)'),
    trimQuarantine: db.prepare('DELETE FROM quarantine WHERE id <= (SELECT MAX(id) FROM quarantine) - ?'),
    quarantineRows: db.prepare(QUARANTINE_ROWS),
    hold: db.prepare('INSERT OR REPLACE INTO held_messages (source, id, topic, payload) VALUES (?, ?, ?, ?)'),
    release: db.prepare('DELETE FROM held_messages WHERE source = ? AND id = ?'),
    held: db.prepare('SELECT id, topic, payload FROM held_messages WHERE source = ? ORDER BY id'),
    lowestSeq: db.prepare('SELECT MIN(seq) AS seq FROM readings'),
    below: db.prepare('SELECT seq, key, value, bytes FROM readings WHERE seq < ? ORDER BY seq DESC LIMIT ?'),
    renumber: db.prepare('UPDATE readings SET seq = ?, value = ?, bytes = ? WHERE seq = ?'),
  };
}

/**
 * Insert the rows in `values`, ROW_COLUMNS values a row (seq, key, value, ts, bytes, seq, ...),
 * and empty it: a whole INSERT_ROWS in one statement, fewer one by one. Callers flush every
 * INSERT_ROWS rows and once at the end.
 */
export function insertRows(st: Statements, values: unknown[]): void {
  if (values.length === INSERT_VALUES) st.insertMany.run(values);
  else for (let at = 0; at < values.length; at += ROW_COLUMNS) st.insert.run(values.slice(at, at + ROW_COLUMNS));
  values.length = 0;
}

function createTables(db: Database.Database): void {
  db.exec(`
      CREATE TABLE IF NOT EXISTS readings (
        seq   INTEGER PRIMARY KEY,
        key   TEXT NOT NULL,
        value TEXT NOT NULL,  -- the record's JSON, without its field names (stored-value.ts)
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
}
