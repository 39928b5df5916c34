/**
 * The data dir's file system, as the buffer sees it: how much the buffer may still take (so that
 * `buffer.reserveBytes` stays free for the operating system), and a small reserve file that keeps
 * room for deleting what Kafka acknowledged. Deleting rows writes to SQLite's WAL before it frees
 * anything, so on a full disk the reserve is given up to let acknowledgements (which make room)
 * through, and new input is refused until it can be put back.
 */
import { closeSync, fsyncSync, openSync, rmSync, statfsSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const RESERVE_FILE = 'buffer.reserve';
const PAGE = 4096;

export class DiskSpace {
  private readonly reserveFile: string;
  private readonly reserveSize: number;
  /**
   * WAL bytes between automatic checkpoints: 4 MiB (SQLite's default of 1000 pages of 4 KiB),
   * less on a small file system (a 64th of it), so that the WAL, and the room a checkpoint needs
   * to fold it back into the database, stay a small part of the disk.
   */
  readonly walBytes: number;

  constructor(
    private readonly dataDir: string,
    private readonly reserveBytes: number,
    maxBytes: number,
  ) {
    this.reserveFile = join(dataDir, RESERVE_FILE);
    const fs = statfsSync(dataDir);
    this.walBytes =
      PAGE * Math.max(16, Math.min(1000, Math.floor(Math.min((fs.blocks * fs.bsize) / 64, maxBytes / 16) / PAGE)));
    // Room for a full WAL to be checkpointed into the database and for the WAL of deleting the
    // acknowledged readings after it.
    this.reserveSize = 3 * this.walBytes;
  }

  /**
   * The buffer's cap now: `maxBytes`, or less when the file system has less room than that once
   * `reserveBytes` is kept free. `filesBytes` (the buffer's files) counts as room the buffer holds.
   */
  cap(maxBytes: number, filesBytes: number): number {
    const fs = statfsSync(this.dataDir);
    const free = fs.bavail * fs.bsize;
    return Math.max(0, Math.min(maxBytes, free - this.reserveBytes + filesBytes));
  }

  /** Bytes taken by the named files in the data dir (missing ones count 0). */
  size(files: string[]): number {
    let total = 0;
    for (const f of files) {
      try {
        total += statSync(join(this.dataDir, f)).size;
      } catch {
        /* not there */
      }
    }
    return total;
  }

  get hasReserve(): boolean {
    try {
      return statSync(this.reserveFile).size === this.reserveSize;
    } catch {
      return false;
    }
  }

  /** Put the reserve file in place (written out, so its blocks are really allocated). Throws ENOSPC when there is no room. */
  keepReserve(): void {
    if (this.hasReserve) return;
    const fd = openSync(this.reserveFile, 'w');
    try {
      const chunk = Buffer.alloc(64 * 1024);
      for (let at = 0; at < this.reserveSize; at += chunk.length)
        writeSync(fd, chunk, 0, Math.min(chunk.length, this.reserveSize - at), at);
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      rmSync(this.reserveFile, { force: true });
      throw err;
    }
    closeSync(fd);
  }

  /** Give the reserve up (a full disk: acknowledgements need the room). */
  releaseReserve(): void {
    rmSync(this.reserveFile, { force: true });
  }
}
