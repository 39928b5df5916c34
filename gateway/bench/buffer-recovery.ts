/**
 * What the buffer's recovery costs on a large file (run alone: `node dist/gateway/bench/buffer-recovery.js [GiB] [dir]`):
 *  - start-up on a clean buffer (the last close was clean: no check);
 *  - start-up after an unclean stop (SQLite's integrity check runs first);
 *  - salvage of a damaged buffer: pages in the middle overwritten, found by the check, the file
 *    set aside and every readable reading copied with its seq into a fresh file.
 * Prints one JSON object. Records are real gateway records (record.ts), about 250 bytes each.
 */
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BufferEntry, BufferOptions, SalvageReport } from '../buffer/buffer.js';
import { CLEAN_FILE } from '../buffer/clean-mark.js';
import { BUFFER_FILE } from '../buffer/schema.js';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { encodeRecord, recordKey } from '../ingest/record.js';

const gib = Number(process.argv[2] ?? 1);
const dir = mkdtempSync(join(process.argv[3] ?? tmpdir(), 'sg-recovery-bench-'));
const opts: BufferOptions = {
  maxBytes: 64 * 1024 ** 3,
  whenFull: 'drop-oldest',
  synchronous: 'FULL',
  quarantineMaxRows: 0,
};

function batch(from: number, n: number): BufferEntry[] {
  return Array.from({ length: n }, (_, i) => {
    const sensor = `pump-${(from + i) % 50}`;
    const ts = 1_732_400_000_000 + from + i;
    return {
      key: recordKey('bench-gw', sensor),
      ts,
      encode: (seq: number) =>
        encodeRecord({
          gateway: 'bench-gw',
          source: 'plant-mqtt',
          sensor,
          metric: 'vib_rms',
          value: Math.sin(from + i),
          unit: 'mm/s',
          ts,
          seq,
          bootId: '6f1c3e0a-2b1d-4c1e-9a77-3f2d5b9c8e10',
          clockSynced: true,
        }),
    };
  });
}

function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, (performance.now() - t0) / 1000];
}

try {
  const file = join(dir, BUFFER_FILE);
  let b = SqliteBuffer.open(dir, opts);
  let n = 0;
  while (statSync(file).size + (statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0) < gib * 1024 ** 3) {
    b.append(batch(n, 20_000));
    n += 20_000;
  }
  b.close();
  const fileBytes = statSync(file).size;

  const [, cleanStartS] = timed(() => SqliteBuffer.open(dir, opts).close());
  rmSync(join(dir, CLEAN_FILE)); // as after a crash
  const [, checkedStartS] = timed(() => SqliteBuffer.open(dir, opts).close());

  // Three damaged 4-page runs in the middle, found by the check at the next (unclean) start.
  const fd = openSync(file, 'r+');
  for (const at of [0.3, 0.5, 0.7])
    writeSync(fd, Buffer.alloc(4 * 4096, 0xa5), 0, 4 * 4096, Math.floor((fileBytes / 4096) * at) * 4096);
  closeSync(fd);
  rmSync(join(dir, CLEAN_FILE));
  const reports: SalvageReport[] = [];
  const [, damagedStartS] = timed(() => {
    b = SqliteBuffer.open(dir, opts, { salvaged: (r) => reports.push(r) });
  });
  b.close();
  const r = reports[0];
  console.log(
    JSON.stringify(
      {
        readings: n,
        fileBytes,
        cleanStartS: +cleanStartS.toFixed(3),
        integrityCheckStartS: +checkedStartS.toFixed(3),
        damagedStartS: +damagedStartS.toFixed(3),
        salvageS: r ? r.ms / 1000 : null,
        salvaged: r?.salvaged,
        lost: r?.lost,
        salvagedPerS: r ? Math.round(r.salvaged / (r.ms / 1000)) : null,
      },
      null,
      2,
    ),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
