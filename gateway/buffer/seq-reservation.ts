/**
 * The seq high-water mark: a small file beside the buffer (`seq.hwm`) holding a seq that no reading
 * has been given yet, nor any above it. Seqs are reserved in blocks: before the first seq of a block
 * goes into the buffer, the block's end is written to this file and made durable (file and
 * directory fsync). So when the buffer file is lost, damaged, or rolled back by a power cut under
 * `synchronous: NORMAL`, the gateway continues above the mark and never hands a seq out twice.
 * Seqs may be skipped (the rest of a block after a crash), never reused.
 *
 * Written as a new file renamed over the old one, so a crash leaves either mark, never a torn one.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const SEQ_FILE = 'seq.hwm';
/** Seqs per reservation: one extra fsync per this many readings. */
const BLOCK = 10_000;

export class SeqReservation {
  private readonly file: string;
  /** Every seq below this may have been handed out; none at or above it has. */
  private mark: number;

  constructor(private readonly dataDir: string) {
    this.file = join(dataDir, SEQ_FILE);
    this.mark = SeqReservation.read(dataDir) ?? 1;
  }

  /** The mark on disk, or null when there is none (a new data dir) or it cannot be read. */
  static read(dataDir: string): number | null {
    let text: string;
    try {
      text = readFileSync(join(dataDir, SEQ_FILE), 'utf8');
    } catch {
      return null;
    }
    const n = Number(text.trim());
    return Number.isSafeInteger(n) && n >= 1 ? n : null;
  }

  get highWater(): number {
    return this.mark;
  }

  /** Make seqs below `end` usable: durably move the mark to at least `end` (plus a block). */
  reserve(end: number): void {
    if (end <= this.mark) return;
    const mark = end + BLOCK;
    const tmp = `${this.file}.tmp`;
    writeDurably(tmp, `${mark}\n`);
    renameSync(tmp, this.file);
    fsyncDir(this.dataDir);
    this.mark = mark;
  }
}

/** Write `text` to `file` and fsync it. */
export function writeDurably(file: string, text: string): void {
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Make a directory's entries (a create, rename or unlink in it) durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
