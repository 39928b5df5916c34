/**
 * What the buffer does with a damaged file: set it aside (never delete it, beyond a few old ones)
 * and read back every reading it still yields, with its original seq.
 *
 * SQLite stops a scan at the first unreadable page, so the salvage reads in seq order and, where a
 * read fails, probes forward (doubling, then bisecting) for the first seq it can read again: a bad
 * page costs the readings of the rows on it, not everything after it. Rows are checked before they
 * are kept (a row's body must decompress and every record carry its seq), so a page of garbage that
 * still parses is not forwarded. Rows of an older version (legacy-rows.ts) are salvaged too.
 */
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { decodeRow, type RowReading } from './batch-row.js';
import { isIntact, LEGACY_ROWS, type LegacyRow, unpackRow } from './legacy-rows.js';
import { fsyncDir } from './seq-reservation.js';

/** A reading salvaged, with its seq. */
export interface SalvagedRow extends RowReading {
  seq: number;
}

/** Where a file keeps readings, and how to take them out of a row of it. */
interface Table {
  /** Rows from a seq on, in seq order (arguments: seq, limit). */
  query: string;
  /** The row's readings; none when the row is damaged. */
  readings(row: unknown): SalvagedRow[];
  /** The seq after the row's last. */
  after(row: unknown): number;
}

const TABLES: Table[] = [
  {
    query: 'SELECT first, last, body FROM batches WHERE first >= ? ORDER BY first LIMIT ?',
    readings(row) {
      const { first, last, body } = row as { first: number; last: number; body: Buffer };
      try {
        return decodeRow(first, last, body);
      } catch {
        return [];
      }
    },
    after: (row) => (row as { last: number }).last + 1,
  },
  {
    query: LEGACY_ROWS,
    readings(row) {
      const r = unpackRow(row as LegacyRow);
      return isIntact(r) ? [r] : [];
    },
    after: (row) => (row as LegacyRow).seq + 1,
  },
];

/** Rows read per query. */
const SCAN_ROWS = 1000;

export interface SalvageResult {
  salvaged: number;
  /** Readings the damaged file held but did not yield; null when it cannot tell (its counters are unreadable). */
  lost: number | null;
  /** The damaged file's seq counter, when readable. */
  nextSeq: number | null;
  /** Whether the damaged file was anchored (see SqliteBuffer.anchor()); null when unreadable. */
  anchored: boolean | null;
}

/** Damaged files kept in the data dir; older ones are removed so they cannot fill the disk. */
const KEEP_ASIDE = 3;
const SIDE_FILES = ['', '-wal', '-shm'];

/**
 * Rename `file` (with its -wal and -shm) to `<file>.corrupt-<UTC time>`, and remove the oldest
 * such sets beyond a few. Returns the new name of the main file.
 */
export function setAside(dataDir: string, fileName: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '');
  const aside = `${fileName}.corrupt-${stamp}`;
  for (const suffix of SIDE_FILES) {
    const from = join(dataDir, fileName + suffix);
    if (existsSync(from)) renameSync(from, join(dataDir, aside + suffix));
  }
  const prefix = `${fileName}.corrupt-`;
  const sets = readdirSync(dataDir)
    .filter((f) => f.startsWith(prefix) && !f.endsWith('-wal') && !f.endsWith('-shm'))
    .sort();
  for (const old of sets.slice(0, Math.max(0, sets.length - KEEP_ASIDE))) {
    for (const suffix of SIDE_FILES) rmSync(join(dataDir, old + suffix), { force: true });
  }
  fsyncDir(dataDir);
  return join(dataDir, aside);
}

/**
 * Read every reading `file` still yields, in seq order, handing them to `keep` in batches.
 * `seqBound` is a seq above every reading the file can hold (the seq high-water mark).
 */
export function salvage(file: string, seqBound: number, keep: (rows: SalvagedRow[]) => void): SalvageResult {
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: true });
  } catch {
    return { salvaged: 0, lost: null, nextSeq: null, anchored: null };
  }
  try {
    // Check each cell's size against its page: a damaged page is an error, not garbage rows.
    db.pragma('cell_size_check = ON');
    const meta = tryRead(
      () => new Map((db.prepare('SELECT k, v FROM meta').all() as { k: string; v: number }[]).map((r) => [r.k, r.v])),
    );
    const metaNext = meta?.get('next_seq');
    const metaDepth = meta?.get('depth');
    const anchored = meta === undefined ? null : meta.get('anchored') !== 0;
    const end = Math.max(seqBound, metaNext ?? 0);
    let salvaged = 0;
    for (const table of TABLES) {
      // No such table in this file (or its schema is unreadable): nothing to read there.
      const query = tryRead(() => db.prepare(table.query));
      if (query) salvaged += scan(query, table, end, keep);
    }
    const lost = metaDepth === undefined ? null : Math.max(0, metaDepth - salvaged);
    return { salvaged, lost, nextSeq: metaNext ?? null, anchored };
  } finally {
    try {
      db.close();
    } catch {
      /* a damaged file may fail its closing checkpoint: it is set aside anyway */
    }
  }
}

/** Hand every reading of `table` the damaged file still yields to `keep`; returns how many. */
function scan(query: Database.Statement, table: Table, end: number, keep: (rows: SalvagedRow[]) => void): number {
  const readable = (seq: number) => tryRead(() => query.all(seq, 1)) !== undefined;
  let salvaged = 0;
  let from = 1;
  while (from < end) {
    let rows = 0;
    let failed = false;
    const good: SalvagedRow[] = [];
    try {
      for (const row of query.iterate(from, SCAN_ROWS)) {
        rows++;
        good.push(...table.readings(row));
        from = table.after(row);
      }
    } catch {
      failed = true;
    }
    if (good.length) keep(good);
    salvaged += good.length;
    if (!failed) {
      if (rows < SCAN_ROWS) break;
      continue;
    }
    // Where the failed read began (nothing read) or stopped, the next page is unreadable: skip past it.
    if (!rows || !readable(from)) from = nextReadable(from, end, readable);
  }
  return salvaged;
}

/** The first seq after `bad` (unreadable) where reading works again, or `end`. */
function nextReadable(bad: number, end: number, readable: (seq: number) => boolean): number {
  let lo = bad;
  let step = 1;
  let hi = end;
  for (;;) {
    const probe = bad + step;
    if (probe >= end) break;
    if (readable(probe)) {
      hi = probe;
      break;
    }
    lo = probe;
    step *= 2;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (readable(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

function tryRead<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
