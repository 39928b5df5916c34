/**
 * The durable buffer: every reading the gateway accepts lives here until Kafka acknowledged it.
 *
 * - One SQLite file in WAL mode; `synchronous=FULL` by default so that a committed transaction
 *   survives a power cut. Callers group many readings per transaction (see ingest.ts), which keeps
 *   fsyncs per second bounded and flash wear low.
 * - A commit's readings are one row, compressed together (batch-row.ts); an acknowledgement or a
 *   drop that ends inside a row stores the row's other readings anew.
 * - `seq` comes from a persisted counter, not from rowid allocation, so it is never reused even
 *   when the buffer drains completely and the gateway restarts.
 * - Everything (lease, ack, drop, expiry) is by seq. Wall-clock time is stored for information
 *   only: a clock jump can neither delete nor reorder data.
 * - depth and bytes are kept in the meta table inside the same transactions, so opening a full
 *   1 GiB buffer does not scan it.
 * - The disk may fail under it (docs/durability.md). A damaged file is set aside and salvaged into a
 *   fresh one (salvage.ts); seqs are reserved in a file outside the database
 *   (seq-reservation.ts) so that no loss of the database can make one repeat; a full disk or an
 *   I/O error refuses the commit (nothing is acknowledged that is not durable) and never leaves the
 *   counters here disagreeing with the file.
 * - A clean shutdown leaves `buffer.clean` (holding the next seq); without it the next start runs
 *   SQLite's integrity check first.
 * - A buffer created where no seq reservation existed (a new data dir, or one lost whole) cannot
 *   know which seqs this gateway used before: it starts un-anchored, and nothing is sent from it
 *   until anchor() has moved its seqs above what Kafka already holds (see the forwarder).
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { decodeRow, encodeRow, ROW_READINGS, type Row, type RowReading } from './batch-row.js';
import type {
  AppendResult,
  BufferEntry,
  BufferEvents,
  BufferOptions,
  LiveBufferStats,
  QuarantinedRow,
  QuarantineEntry,
  SessionOp,
  StoredRecord,
} from './buffer.js';
import { markClean, takeCleanMark } from './clean-mark.js';
import { DiskSpace } from './disk-space.js';
import { isDamage, storageFailure } from './failures.js';
import { isIntact, LEGACY_ROWS, LEGACY_TABLE, type LegacyRow, unpackRow } from './legacy-rows.js';
import { withSeq } from './record-seq.js';
import { type SalvagedRow, salvage, setAside } from './salvage.js';
import { BUFFER_FILE, hasTable, openBufferFile, readMeta, type Statements } from './schema.js';
import { fsyncDir, SeqReservation } from './seq-reservation.js';

/** Quarantined payloads are kept for diagnosis, not for replay: a prefix is enough. */
const QUARANTINE_PAYLOAD_BYTES = 1024;
/**
 * Legacy rows moved into row batches per transaction when a file of an older version opens: the
 * WAL of one (about 200 KiB) fits the reserve of a full disk, even a small one's.
 */
const UPGRADE_ROWS = 1000;

/** Warn above this share of the cap. */
const NEAR_FULL = 0.8;
/** On a full disk, acknowledged readings are deleted in steps this small, each fitting the reserve. */
const ACK_STEP = 500;
/** Pages handed back to a full file system per step. */
const VACUUM_STEP = 16;
/**
 * At most this many acknowledged readings wait for the next commit to delete them (see ack());
 * more are deleted at once, as the large batches of a burst or a backlog drain are.
 */
const DEFERRED_ACK_ROWS = 1000;

/** A range of seqs Kafka acknowledged whose rows are still in the file, and what they count. */
interface DeferredAck {
  from: number;
  to: number;
  rows: number;
  bytes: number;
}

/** The prepared statements and transactions of one open database file. */
interface Handle extends Statements {
  appendTx: (entries: BufferEntry[], quarantine: QuarantineEntry[], session: SessionOp[]) => AppendResult;
  ackTx: (from: number, to: number) => number;
  anchorTx: (shift: number, nextSeq: number) => number;
  quarantineTx: (entries: QuarantineEntry[]) => void;
  salvageTx: (rows: SalvagedRow[]) => void;
  upgradeTx: (rows: LegacyRow[], last: boolean) => void;
}

export class SqliteBuffer {
  private h!: Handle;
  private nextSeq = 1;
  private depth = 0;
  private bytes = 0;
  private isAnchored = true;
  /**
   * Acknowledged ranges deleted by the next commit (or flushAcks()). nextSeq, depth and bytes
   * describe the file, these rows included; what the buffer reports leaves them out.
   */
  private deferred: DeferredAck[] = [];
  /** Whether a buffer file created now counts as anchored: only if a seq reservation was found. */
  private readonly anchoredIfNew: boolean;
  private readonly file: string;
  private readonly seqs: SeqReservation;
  private readonly space: DiskSpace;
  /** The effective cap (maxBytes, or less on a filling disk), refreshed at most once a second. */
  private cap: number;
  /** performance.now() of the last refresh: a wall-clock step back must not hold the cap for an hour. */
  private capAt = Number.NEGATIVE_INFINITY;
  /** The storage problem raised now, if any (cleared by the next commit that works). */
  private failing: 'disk_full' | 'buffer_io_error' | null = null;
  private closed = false;

  static open(dataDir: string, opts: BufferOptions, events: BufferEvents = {}): SqliteBuffer {
    mkdirSync(dataDir, { recursive: true });
    return new SqliteBuffer(dataDir, opts, events);
  }

  private constructor(
    private readonly dataDir: string,
    private readonly opts: BufferOptions,
    private readonly events: BufferEvents,
  ) {
    this.file = join(dataDir, BUFFER_FILE);
    this.cap = opts.maxBytes;
    this.anchoredIfNew = SeqReservation.read(dataDir) !== null;
    this.seqs = new SeqReservation(dataDir);
    this.space = new DiskSpace(dataDir, opts.reserveBytes ?? 0, opts.maxBytes);
    const cleanSeq = takeCleanMark(dataDir);
    try {
      this.openChecked(cleanSeq !== null);
    } catch (err) {
      // A disk full to the last block: SQLite cannot create the -shm file it needs to open the
      // WAL, nor write the WAL of an upgrade (which frees room: readings shrink about tenfold).
      // The reserve is there for such a moment; without it the gateway cannot start.
      if (!storageFailure(err) || !this.space.hasReserve) throw err;
      try {
        if (this.h?.db.open) this.h.db.close();
      } catch {
        /* a file failing to open */
      }
      this.space.releaseReserve();
      this.openChecked(cleanSeq !== null);
    }
    // After a clean close the counter in the file is exact and seqs stay dense. After anything
    // else it may have been rolled back (a lost file, a power cut under synchronous NORMAL):
    // continue above every seq that may have been handed out.
    if (cleanSeq === null || cleanSeq !== this.nextSeq) this.nextSeq = Math.max(this.nextSeq, this.seqs.highWater);
    // The reserve is written once for the data dir's lifetime (it stays across restarts). Written
    // now, not by the first commit, whose readings would wait for its megabytes and their fsync.
    // A disk too full for it is no reason not to start: every commit tries again and raises disk_full.
    try {
      this.space.keepReserve();
    } catch (err) {
      if (!storageFailure(err)) throw err;
    }
  }

  /**
   * Open the file, checking it first unless it was closed cleanly: a crash, a power cut or a killed
   * process may have left it damaged, and a damaged page is better found now than by the forwarder
   * in the middle of a backlog. A damaged file is recovered from (set aside, salvaged).
   */
  private openChecked(closedCleanly: boolean): void {
    const existed = existsSync(this.file);
    try {
      this.attach();
      if (existed && !closedCleanly) this.checkIntegrity();
    } catch (err) {
      if (!isDamage(err)) throw err;
      this.recover(err as Error);
    }
  }

  private checkIntegrity(): void {
    const verdict = this.h.db.pragma('integrity_check(1)', { simple: true });
    if (verdict !== 'ok')
      throw Object.assign(new Error(`integrity check: ${String(verdict)}`), { code: 'SQLITE_CORRUPT' });
  }

  /**
   * Open (or create) the buffer file and prepare everything on it; counters come from the file.
   * A salvage's fresh file counts as anchored when created: it keeps the damaged file's seqs.
   */
  private attach(file = this.file, anchoredIfNew = this.anchoredIfNew): void {
    const st = openBufferFile(
      file,
      { synchronous: this.opts.synchronous, walBytes: this.space.walBytes },
      anchoredIfNew,
    );
    this.h = this.withTransactions(st);
    const meta = readMeta(st.db);
    // Never backwards: a file reopened after a failed commit may hold less than was reserved.
    this.nextSeq = Math.max(this.nextSeq, meta.get('next_seq')!);
    this.depth = meta.get('depth')!;
    this.bytes = meta.get('bytes')!;
    this.isAnchored = meta.get('anchored') !== 0;
    if (hasTable(st.db, LEGACY_TABLE)) this.upgrade();
    // A file opened again (after an I/O error, or salvaged) may hold fewer of the deferred rows.
    for (const d of this.deferred) Object.assign(d, this.measure(d.from, d.to));
  }

  /**
   * Move the readings of a file an older version wrote (a row per reading, legacy-rows.ts) into
   * row batches, oldest first, a bounded transaction at a time (the WAL stays small, and a stop
   * halfway goes on where it stopped); the last one drops the old table. Once, at the first start
   * of this version.
   */
  private upgrade(): void {
    const t0 = performance.now();
    const oldest = this.h.db.prepare(LEGACY_ROWS);
    let moved = 0;
    for (let last = false; !last; ) {
      const rows = oldest.all(0, UPGRADE_ROWS) as LegacyRow[];
      last = rows.length < UPGRADE_ROWS;
      this.keepCountersOnRollback(() => this.h.upgradeTx(rows, last));
      moved += rows.length;
      this.events.progress?.('upgrade', moved);
    }
    this.events.upgraded?.({ readings: moved, ms: Math.round(performance.now() - t0) });
  }

  /** The transactions on a file's statements, which keep the counters here in step with the file. */
  private withTransactions(st: Statements): Handle {
    const { db } = st;
    const h = st as Handle;
    h.quarantineTx = db.transaction((entries: QuarantineEntry[]) => this.storeQuarantine(entries));

    h.appendTx = db.transaction((entries: BufferEntry[], quarantine: QuarantineEntry[], session: SessionOp[]) => {
      const result: AppendResult = { stored: 0, droppedOldest: 0, refused: [] };
      // The deferred deletes share this commit's pages (header, root, pointer map, meta row) and
      // its fsync; first, so that their room counts against the cap.
      for (const d of this.deferred) this.cut(d.from, d.to);
      this.storeQuarantine(quarantine);
      for (const op of session) {
        if (op.hold)
          h.hold.run(
            op.source,
            op.hold.id,
            op.hold.topic,
            Buffer.from(op.hold.payload.buffer, op.hold.payload.byteOffset, op.hold.payload.length),
          );
        if (op.release !== undefined) h.release.run(op.source, op.release);
      }
      // A row per ROW_READINGS; near the cap, smaller ones, as many as fit. Refused: what is left
      // when not even one more reading fits as a row of its own.
      let at = 0;
      while (at < entries.length) {
        const chunk = entries.slice(at, at + ROW_READINGS);
        const row = this.fit(
          chunk.map((e, i) => ({ key: e.key, ts: e.ts, value: e.encode(this.nextSeq + i) })),
          result,
        );
        if (!row) break;
        this.store(row);
        result.stored += row.last - row.first + 1;
        at += row.last - row.first + 1;
      }
      result.refused = entries.slice(at);
      this.saveMeta();
      return result;
    }) as Handle['appendTx'];

    h.ackTx = db.transaction((from: number, to: number) => {
      const n = this.cut(from, to);
      this.saveMeta();
      return n;
    }) as Handle['ackTx'];

    // Highest seq first: each row moves up into room its successor has already left.
    h.anchorTx = db.transaction((shift: number, nextSeq: number) => {
      let renumbered = 0;
      for (let below = Number.MAX_SAFE_INTEGER; shift > 0; ) {
        const rows = h.below.all(below, 100) as Row[];
        if (rows.length === 0) break;
        for (const row of rows) {
          const readings = decodeRow(row.first, row.last, row.body).map((r) => ({
            ...r,
            value: withSeq(r.value, r.seq + shift),
          }));
          const moved = encodeRow(row.first + shift, readings);
          h.renumber.run(moved.first, moved.last, moved.bytes, moved.body, row.first);
          this.bytes += moved.bytes - row.bytes;
          renumbered += readings.length;
        }
        below = rows[rows.length - 1]!.first;
      }
      this.nextSeq = nextSeq;
      this.isAnchored = true;
      this.saveMeta();
      h.setMeta.run(1, 'anchored');
      return renumbered;
    }) as Handle['anchorTx'];

    h.salvageTx = db.transaction((rows: SalvagedRow[]) => {
      this.storeRuns(rows);
      this.saveMeta();
    }) as Handle['salvageTx'];

    h.upgradeTx = db.transaction((rows: LegacyRow[], last: boolean) => {
      const readings = rows.map(unpackRow);
      // A row that does not hold its record is damage: the file is set aside and salvaged.
      const bad = readings.find((r) => !isIntact(r));
      if (bad) throw Object.assign(new Error(`row ${bad.seq} does not hold its record`), { code: 'SQLITE_CORRUPT' });
      this.storeRuns(readings);
      if (rows.length) db.prepare(`DELETE FROM ${LEGACY_TABLE} WHERE seq <= ?`).run(rows[rows.length - 1]!.seq);
      if (last) db.exec(`DROP TABLE ${LEGACY_TABLE}`);
      this.depth -= rows.length;
      for (const r of rows) this.bytes -= r.bytes;
      this.saveMeta();
    }) as Handle['upgradeTx'];
    return h;
  }

  /** Insert a row and count it. */
  private store(row: Row): void {
    this.h.insert.run(row.first, row.last, row.ts, row.bytes, row.body);
    this.nextSeq = Math.max(this.nextSeq, row.last + 1);
    this.depth += row.last - row.first + 1;
    this.bytes += row.bytes;
  }

  /** Store readings in seq order, each run of consecutive seqs in rows of up to ROW_READINGS. */
  private storeRuns(readings: SalvagedRow[]): void {
    for (let at = 0; at < readings.length; ) {
      let end = at + 1;
      while (end < readings.length && end - at < ROW_READINGS && readings[end]!.seq === readings[end - 1]!.seq + 1)
        end++;
      this.store(encodeRow(readings[at]!.seq, readings.slice(at, end)));
      at = end;
    }
  }

  /**
   * The row of as many of `readings` (numbered from nextSeq) as fit under the cap, the oldest
   * readings dropped to make room where the buffer drops; null when not one fits.
   */
  private fit(readings: RowReading[], result: AppendResult): Row | null {
    for (let n = readings.length; ; ) {
      const row = encodeRow(this.nextSeq, n === readings.length ? readings : readings.slice(0, n));
      if (this.bytes + row.bytes > this.cap && this.opts.whenFull === 'drop-oldest' && row.bytes <= this.cap)
        result.droppedOldest += this.makeRoom(row.bytes);
      if (this.bytes + row.bytes <= this.cap) return row;
      if (n === 1) return null;
      // Fewer: as many as the room left holds at this row's bytes per reading.
      n = Math.max(1, Math.min(n - 1, Math.floor(((this.cap - this.bytes) / row.bytes) * n)));
    }
  }

  private storeQuarantine(entries: QuarantineEntry[]): void {
    if (entries.length === 0 || this.opts.quarantineMaxRows === 0) return;
    for (const q of entries) {
      const payload =
        q.payload === undefined
          ? null
          : (typeof q.payload === 'string'
              ? Buffer.from(q.payload)
              : Buffer.from(q.payload.buffer, q.payload.byteOffset, q.payload.length)
            ).subarray(0, QUARANTINE_PAYLOAD_BYTES);
      this.h.quarantine.run(q.ts, q.source, q.reason, q.detail, payload);
    }
    this.h.trimQuarantine.run(this.opts.quarantineMaxRows);
  }

  /**
   * The rows that reach past from..to and hold some of it (at most two: one across each end). An
   * acknowledgement or a drop ends inside a row when a batch sent to Kafka did.
   */
  private edgeRows(from: number, to: number): Row[] {
    const edges: Row[] = [];
    const head = this.h.holding.get(from) as Row | undefined;
    if (head && head.first < from && head.last >= from) edges.push(head);
    const tail = this.h.holding.get(to) as Row | undefined;
    if (tail && tail.first >= from && tail.last > to) edges.push(tail);
    return edges;
  }

  /** Readings in from..to, and the bytes they count (those of a row in part by their share of it). */
  private measure(from: number, to: number): { rows: number; bytes: number } {
    const { n, b } = this.h.wholeSize.get(from, to, to) as { n: number; b: number };
    let rows = n;
    let bytes = b;
    for (const row of this.edgeRows(from, to)) {
      const inside = Math.min(row.last, to) - Math.max(row.first, from) + 1;
      rows += inside;
      bytes += Math.round((row.bytes * inside) / (row.last - row.first + 1));
    }
    return { rows, bytes };
  }

  /**
   * Delete seqs from..to inside a transaction and count it; a row reaching past either end keeps
   * its readings outside the range, stored anew. Returns how many readings went.
   */
  private cut(from: number, to: number): number {
    let cut = 0;
    for (const row of this.edgeRows(from, to)) {
      const readings = decodeRow(row.first, row.last, row.body);
      this.h.deleteRow.run(row.first);
      this.depth -= readings.length;
      this.bytes -= row.bytes;
      const before = readings.filter((r) => r.seq < from);
      const after = readings.filter((r) => r.seq > to);
      for (const kept of [before, after]) if (kept.length) this.store(encodeRow(kept[0]!.seq, kept));
      cut += readings.length - before.length - after.length;
    }
    const { n, b } = this.h.wholeSize.get(from, to, to) as { n: number; b: number };
    this.h.deleteWhole.run(from, to, to);
    this.depth -= n;
    this.bytes -= b;
    return cut + n;
  }

  private saveMeta(): void {
    this.h.setMeta.run(this.nextSeq, 'next_seq');
    this.h.setMeta.run(this.depth, 'depth');
    this.h.setMeta.run(this.bytes, 'bytes');
  }

  /** Delete the oldest readings until `size` more bytes fit. Returns how many were dropped. */
  private makeRoom(size: number): number {
    let dropped = 0;
    while (this.bytes + size > this.cap && this.depth > 0) {
      const row = this.h.oldest.get() as Row;
      const n = row.last - row.first + 1;
      const over = this.bytes + size - this.cap;
      // As many of its readings as the bytes over the cap make at the row's bytes per reading.
      const k = over >= row.bytes ? n : Math.ceil((over / row.bytes) * n);
      dropped += this.cut(row.first, row.first + k - 1);
    }
    return dropped;
  }

  /**
   * Salvage what the damaged file still yields, with the original seqs, into a fresh file; then
   * set the damaged one aside and put the fresh one in its place. The swap comes last, so a
   * gateway stopped mid-salvage (a long one blocks everything, even systemd's watchdog if the
   * gateway did not feed it from `progress`) finds the damaged file still in place and starts over.
   */
  private recover(cause: Error): void {
    const t0 = performance.now();
    try {
      this.h?.db.close();
    } catch {
      /* the damaged file may fail its closing checkpoint */
    }
    const fresh = `${this.file}.salvage`;
    for (const suffix of ['', '-wal', '-shm']) rmSync(fresh + suffix, { force: true });
    this.nextSeq = Math.max(this.nextSeq, this.seqs.highWater);
    this.depth = 0;
    this.bytes = 0;
    this.attach(fresh, true);
    let kept = 0;
    const r = salvage(this.file, this.seqs.highWater, (rows) => {
      this.h.salvageTx(rows);
      kept += rows.length;
      this.events.progress?.('salvage', kept);
    });
    this.nextSeq = Math.max(this.nextSeq, r.nextSeq ?? 0);
    this.h.salvageTx([]);
    // Still a fresh buffer if the damaged file says it was one; when it cannot say, if no seq was
    // ever reserved here (only an anchored buffer reserves).
    if (r.anchored === false || (r.anchored === null && SeqReservation.read(this.dataDir) === null))
      this.h.setMeta.run(0, 'anchored');
    this.h.db.pragma('wal_checkpoint(TRUNCATE)');
    this.h.db.close();
    const aside = setAside(this.dataDir, BUFFER_FILE);
    renameSync(fresh, this.file);
    fsyncDir(this.dataDir);
    this.attach();
    this.events.salvaged?.({
      file: aside,
      cause: cause.message,
      salvaged: r.salvaged,
      lost: r.lost,
      ms: Math.round(performance.now() - t0),
    });
  }

  /** Close and open the file again: after an I/O error, only the file says what is stored. */
  private reopen(): void {
    try {
      if (this.h.db.open) this.h.db.close();
    } catch {
      /* closing a failing file */
    }
    this.attach();
  }

  /**
   * Run `op` on the file. Damage found on the way is recovered from (set aside, salvaged) and
   * `op` runs again on the fresh file; a full disk or failing I/O raises its problem and throws.
   */
  private guard<T>(op: () => T): T {
    if (this.closed) throw new Error('the buffer is closed');
    try {
      if (!this.h.db.open) this.reopen();
      return op();
    } catch (err) {
      if (isDamage(err)) {
        this.recover(err as Error);
        return op();
      }
      const failure = storageFailure(err);
      if (failure === 'io_error') {
        try {
          this.reopen();
        } catch {
          /* still failing: the next operation tries again */
        }
      }
      if (failure) this.raise(failure === 'io_error' ? 'buffer_io_error' : 'disk_full', (err as Error).message);
      throw err;
    }
  }

  private raise(code: 'disk_full' | 'buffer_io_error', detail: string): void {
    if (this.failing && this.failing !== code) this.events.problem?.(this.failing, null);
    this.failing = code;
    this.events.problem?.(
      code,
      code === 'disk_full' ? `readings cannot be stored: ${detail}` : `the buffer's disk failed: ${detail}`,
    );
  }

  /** Refresh the effective cap from the file system (at most once a second). */
  private refreshCap(): void {
    const now = performance.now();
    if (now - this.capAt < 1000) return;
    this.capAt = now;
    this.cap = this.space.cap(this.opts.maxBytes, this.space.size([BUFFER_FILE, `${BUFFER_FILE}-wal`]));
  }

  private reportFill(): void {
    const share = this.cap > 0 ? this.waiting().bytes / this.cap : 1;
    this.events.problem?.(
      'buffer_near_full',
      share > NEAR_FULL ? `${Math.round(share * 100)} % of the cap (${this.cap} bytes)` : null,
    );
  }

  /** Store readings, quarantined input and held-message changes in one transaction (one fsync). */
  append(entries: BufferEntry[], quarantine: QuarantineEntry[] = [], session: SessionOp[] = []): AppendResult {
    return this.guard(() => {
      // Room to delete what Kafka acknowledges comes first; without it, take nothing in.
      this.space.keepReserve();
      this.refreshCap();
      // Durable before any seq of it goes into the file. Not while un-anchored: those seqs are
      // provisional (anchor() renumbers them before any is sent), and a reservation on disk is
      // what makes the next file count as anchored should this one be lost.
      if (this.isAnchored) {
        const mark = this.seqs.highWater;
        this.seqs.reserve(this.nextSeq + entries.length);
        if (this.seqs.highWater !== mark) this.events.seqReserved?.(this.seqs.highWater);
      }
      const result = this.keepCountersOnRollback(() => this.h.appendTx(entries, quarantine, session));
      this.deferred = [];
      if (this.failing) {
        this.events.problem?.(this.failing, null);
        this.failing = null;
      }
      this.reportFill();
      return result;
    });
  }

  /** The messages `source` holds (see SessionOp). */
  heldMessages(source: string): Array<{ id: number; topic: string; payload: Buffer }> {
    return this.guard(() => this.h.held.all(source) as Array<{ id: number; topic: string; payload: Buffer }>);
  }

  /** Store quarantined input on its own (e.g. a record Kafka refused). */
  quarantine(entries: QuarantineEntry[]): void {
    this.guard(() => this.h.quarantineTx(entries));
  }

  /**
   * The next records after `afterSeq` (and up to `upToSeq`), in seq order, up to `maxRecords` and
   * `maxBytes` of what Kafka gets (StoredRecord.bytes); at least one record.
   */
  lease(afterSeq: number, maxRecords: number, maxBytes: number, upToSeq = Number.MAX_SAFE_INTEGER): StoredRecord[] {
    return this.guard(() => {
      // Acknowledged readings are never leased again, also while their delete is deferred.
      if (this.deferredWithin(afterSeq + 1, upToSeq)) this.withoutFsync(() => this.deleteDeferred());
      const leased: StoredRecord[] = [];
      let total = 0;
      const start = (this.h.startOf.get(afterSeq + 1) as { first: number | null }).first ?? afterSeq + 1;
      for (const row of this.h.rowsFrom.iterate(start, upToSeq) as Iterable<Row>) {
        if (row.last <= afterSeq) continue;
        for (const r of decodeRow(row.first, row.last, row.body)) {
          if (r.seq <= afterSeq) continue;
          total += r.bytes;
          if (r.seq > upToSeq || leased.length === maxRecords || (total > maxBytes && leased.length > 0)) return leased;
          leased.push(r);
        }
      }
      return leased;
    });
  }

  /**
   * Kafka acknowledged seqs from..to: delete them. Returns how many rows went.
   *
   * The delete gets no fsync of its own: the next commit's fsync (or a checkpoint) makes it
   * durable together with everything before it. A small one is not even a transaction of its
   * own: it waits for the next commit of readings, whose transaction deletes it (see appendTx),
   * or for flushAcks() when none comes. A commit touches the same pages a delete does (the
   * header, the b-tree's root, the pointer map, the meta row): commits of 50 readings, each
   * acknowledged before the next, wrote 124 bytes per reading instead of 167 (the bench's buffer
   * phase, "as a queue"). A crash or power cut before that commit only brings the rows back, to
   * be sent again under their seqs (exactly-once deletes them unsent on connect).
   */
  ack(fromSeq: number, toSeq: number): number {
    return this.guard(() => {
      // A failing disk needs the room now; an overlap would count rows twice; a range of more
      // seqs than may wait is deleted now without counting it here first (the delete counts it).
      if (!this.failing && toSeq - fromSeq < DEFERRED_ACK_ROWS && !this.deferredWithin(fromSeq, toSeq)) {
        const size = this.measure(fromSeq, toSeq);
        if (this.depth - this.waiting().depth + size.rows <= DEFERRED_ACK_ROWS) {
          this.deferred.push({ from: fromSeq, to: toSeq, ...size });
          this.reportFill();
          return size.rows;
        }
      }
      return this.withoutFsync(() => {
        this.deleteDeferred();
        return this.deleteAcked(fromSeq, toSeq);
      });
    });
  }

  /** Delete what ack() deferred now (the forwarder calls it when no readings came for a while). */
  flushAcks(): void {
    if (this.deferred.length) this.guard(() => this.withoutFsync(() => this.deleteDeferred()));
  }

  private deleteDeferred(): void {
    while (this.deferred.length) {
      const d = this.deferred[0]!;
      this.deleteAcked(d.from, d.to);
      this.deferred.shift();
    }
  }

  private deferredWithin(fromSeq: number, toSeq: number): boolean {
    return this.deferred.some((d) => d.to >= fromSeq && d.from <= toSeq);
  }

  /** Rows and bytes waiting, as the buffer reports them: the file's, less the deferred deletes. */
  private waiting(): { depth: number; bytes: number } {
    let { depth, bytes } = this;
    for (const d of this.deferred) {
      depth -= d.rows;
      bytes -= d.bytes;
    }
    return { depth, bytes };
  }

  private deleteAcked(fromSeq: number, toSeq: number): number {
    let n: number;
    try {
      n = this.keepCountersOnRollback(() => this.h.ackTx(fromSeq, toSeq));
    } catch (err) {
      if (storageFailure(err) !== 'disk_full') throw err;
      // The disk is full, and deleting needs room in the WAL first. Give up the reserve: it
      // lets the WAL be folded into the database and emptied, then delete in small steps.
      this.space.releaseReserve();
      this.checkpointIfRoom('TRUNCATE');
      n = 0;
      for (let from = fromSeq; from <= toSeq; from += ACK_STEP) {
        n += this.keepCountersOnRollback(() => this.h.ackTx(from, Math.min(toSeq, from + ACK_STEP - 1)));
        this.checkpointIfRoom('PASSIVE');
      }
    }
    // While the disk is full, hand freed pages back to the file system, so that the reserve
    // can be put back and intake resume.
    if (this.failing === 'disk_full') this.release();
    this.reportFill();
    return n;
  }

  /**
   * Run `op` with synchronous NORMAL: in WAL mode its commit is not fsynced, while checkpoints
   * still are (OFF would skip those too, and could lose pages the WAL no longer holds).
   */
  private withoutFsync<T>(op: () => T): T {
    if (this.opts.synchronous !== 'FULL') return op();
    this.h.db.pragma('synchronous = NORMAL');
    try {
      return op();
    } finally {
      // A failure may have closed the file (reopened files start with the configured mode).
      if (this.h.db.open) this.h.db.pragma('synchronous = FULL');
    }
  }

  /** Give free pages back to the file system and truncate the WAL (best effort on a full disk). */
  private release(): void {
    this.checkpointIfRoom('TRUNCATE');
    // In steps small enough for what little room there is: each moves a few pages through the
    // WAL, and the checkpoint after it shrinks the file and empties the WAL again.
    try {
      while ((this.h.db.pragma('freelist_count', { simple: true }) as number) > 0) {
        this.h.db.pragma(`incremental_vacuum(${VACUUM_STEP})`);
        this.h.db.pragma('wal_checkpoint(TRUNCATE)');
      }
    } catch (err) {
      if (!storageFailure(err)) throw err;
    }
  }

  /** A checkpoint that may fail for lack of room on a full disk (it is tried again later). */
  private checkpointIfRoom(mode: 'PASSIVE' | 'TRUNCATE'): void {
    try {
      this.h.db.pragma(`wal_checkpoint(${mode})`);
    } catch (err) {
      if (!storageFailure(err)) throw err;
    }
  }

  /** A failed transaction (disk full, I/O error) rolls the file back; roll the counters back too. */
  private keepCountersOnRollback<T>(tx: () => T): T {
    const { nextSeq, depth, bytes, isAnchored } = this;
    try {
      return tx();
    } catch (err) {
      Object.assign(this, { nextSeq, depth, bytes, isAnchored });
      throw err;
    }
  }

  /** Make sure the next seq is at least `min` (never reuse a seq Kafka already has). */
  advanceSeq(min: number): void {
    if (this.nextSeq >= min) return;
    this.guard(() => {
      this.seqs.reserve(min);
      this.nextSeq = min;
      this.h.setMeta.run(min, 'next_seq');
    });
  }

  /**
   * Whether this buffer's seqs follow every seq Kafka may already hold of this gateway. False for
   * a buffer created where no seq reservation existed (a new data dir, or one lost whole) until
   * anchor() ran; true for every other, also one upgraded from an older version or salvaged.
   */
  get anchored(): boolean {
    return this.isAnchored;
  }

  /** The seq of the newest reading stored (0: none yet), from memory: cheap enough to ask at every commit. */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /**
   * Anchor a buffer that started afresh: `floor` is the highest seq Kafka may hold of this
   * gateway (0: none). Readings buffered at or below it are renumbered to follow it, in order,
   * each record re-encoded with its new seq, and the next seq moves above it; all in one
   * transaction, which also marks the buffer anchored. Returns how many readings were renumbered.
   */
  anchor(floor: number): number {
    if (this.isAnchored) return 0;
    return this.guard(() => {
      // Renumbering would move other rows under the seqs a deferred delete names.
      this.withoutFsync(() => this.deleteDeferred());
      const lowest = (this.h.lowestSeq.get() as { seq: number | null }).seq;
      const shift = lowest !== null && lowest <= floor ? floor + 1 - lowest : 0;
      const nextSeq = Math.max(this.nextSeq + shift, floor + 1);
      // Durable before any seq of it goes into the file, as for append().
      this.seqs.reserve(nextSeq);
      return this.keepCountersOnRollback(() => this.h.anchorTx(shift, nextSeq));
    });
  }

  stats(): LiveBufferStats {
    let oldestTs: number | null = null;
    // A status scrape must not fail on a damaged page; the next read or write deals with it.
    try {
      oldestTs = this.oldestWaiting();
    } catch {
      /* unreadable now */
    }
    return {
      ...this.waiting(),
      oldestTs,
      nextSeq: this.nextSeq,
      seqReserved: this.seqs.highWater,
    };
  }

  /** The ts of the oldest reading that is no deferred delete. */
  private oldestWaiting(): number | null {
    for (let after = 0; ; ) {
      const start = (this.h.startOf.get(after + 1) as { first: number | null }).first ?? after + 1;
      const row = this.h.firstFrom.get(start, after) as Row | undefined;
      if (!row) return null;
      const seq = Math.max(row.first, after + 1);
      const d = this.deferred.find((x) => x.from <= seq && seq <= x.to);
      if (!d) return seq === row.first ? row.ts : decodeRow(row.first, row.last, row.body)[seq - row.first]!.ts;
      after = d.to;
    }
  }

  quarantined(limit = 100): QuarantinedRow[] {
    return this.guard(() => this.h.quarantineRows.all(limit) as QuarantinedRow[]);
  }

  /** Fold the WAL back into the database and truncate it (idle time, shutdown). */
  checkpoint(): void {
    this.guard(() => this.h.db.pragma('wal_checkpoint(TRUNCATE)'));
  }

  /** Checkpoint, close, and record that the file was closed cleanly. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const db = this.h.db;
    if (!db.open) return;
    // Only a file that checkpointed and closed without error is recorded as clean; anything
    // else gets the integrity check at the next start.
    try {
      this.withoutFsync(() => this.deleteDeferred());
      db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      try {
        db.close();
      } catch {
        /* failing disk */
      }
      return;
    }
    db.close();
    try {
      markClean(this.dataDir, this.nextSeq);
    } catch {
      /* no room for the mark: the next start checks the file */
    }
  }
}
