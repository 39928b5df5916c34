/**
 * The clean-close mark: `buffer.clean` beside the buffer, written (holding the next seq) when the
 * buffer closed cleanly and removed when it opens. Without it the next start checks the file.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir, writeDurably } from './seq-reservation.js';

export const CLEAN_FILE = 'buffer.clean';

/** The next seq recorded at the last clean close, or null (not clean); removed durably either way. */
export function takeCleanMark(dataDir: string): number | null {
  const file = join(dataDir, CLEAN_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  rmSync(file, { force: true });
  fsyncDir(dataDir);
  const n = Number(text.trim());
  return Number.isSafeInteger(n) ? n : null;
}

export function markClean(dataDir: string, nextSeq: number): void {
  const file = join(dataDir, CLEAN_FILE);
  writeDurably(file, `${nextSeq}\n`);
  fsyncDir(dataDir);
}
