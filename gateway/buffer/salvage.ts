/**
 * What the buffer does with a damaged file: set it aside (never delete it, beyond a few old ones)
 * and read back every reading it still yields, with its original seq.
 *
 * SQLite stops a scan at the first unreadable page, so the salvage reads in seq order and, where a
 * read fails, probes forward (doubling, then bisecting) for the first seq it can read again: a bad
 * page costs the readings on it, not everything after it. Rows are checked before they are kept
 * (the record must carry the row's seq), so a page of garbage that still parses is not forwarded.
 */
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { fsyncDir } from './seq-reservation.js';
import { unpackRow } from './stored-value.js';

export interface SalvagedRow {
  seq: number;
  key: string;
  value: string;
  ts: number;
  bytes: number;
}

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
    let from: SalvagedRow['seq'];
    let query: Database.Statement;
    try {
      query = db.prepare('SELECT seq, key, value, ts, bytes FROM readings WHERE seq >= ? ORDER BY seq LIMIT ?');
      from = 1;
    } catch {
      return { salvaged: 0, lost: metaDepth ?? null, nextSeq: metaNext ?? null, anchored };
    }
    const readable = (seq: number) => tryRead(() => query.all(seq, 1)) !== undefined;
    let salvaged = 0;
    while (from < end) {
      const batch: SalvagedRow[] = [];
      let failed = false;
      try {
        for (const row of query.iterate(from, 10_000) as Iterable<SalvagedRow>) {
          batch.push(unpackRow(row));
        }
      } catch {
        failed = true;
      }
      const good = batch.filter(intact);
      if (good.length) keep(good);
      salvaged += good.length;
      if (batch.length) from = batch[batch.length - 1]!.seq + 1;
      if (!failed) {
        if (batch.length < 10_000) break;
        continue;
      }
      // Where the failed read began (nothing read) or stopped, the next page is unreadable: skip past it.
      if (!batch.length || !readable(from)) from = nextReadable(from, end, readable);
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

/** A row as the buffer writes it: its record carries its seq. */
export function intact(r: SalvagedRow): boolean {
  if (
    !Number.isSafeInteger(r.seq) ||
    typeof r.key !== 'string' ||
    typeof r.value !== 'string' ||
    !Number.isFinite(r.ts) ||
    !Number.isSafeInteger(r.bytes)
  )
    return false;
  const field = `"seq":${r.seq}`;
  const at = r.value.indexOf(field);
  const after = r.value[at + field.length];
  return at >= 0 && (after === ',' || after === '}');
}

function tryRead<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
