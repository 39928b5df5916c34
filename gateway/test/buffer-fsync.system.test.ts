/**
 * Flash wear: with synchronous FULL every commit of readings is fsynced, and a delete of
 * acknowledged readings is not (the next commit's fsync covers it). Counted with strace on a
 * real buffer file: 100 commits of readings, each acknowledged and deleted.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

const dir = mkdtempSync(join(tmpdir(), 'sg-fsync-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ROUNDS = 100;
const script = `
  const { SqliteBuffer } = await import(${JSON.stringify(new URL('../buffer/sqlite-buffer.js', import.meta.url).href)});
  const b = SqliteBuffer.open(process.argv[1], { maxBytes: 1 << 30, whenFull: 'reject-new', synchronous: 'FULL', quarantineMaxRows: 10 });
  for (let i = 0; i < ${ROUNDS}; i++) {
    const first = b.stats().nextSeq;
    b.append(Array.from({ length: 10 }, (_, k) => ({ key: 'gw/s', ts: k, encode: (seq) => JSON.stringify({ seq, v: k }) })));
    b.ack(first, first + 9);
  }
  if (b.stats().depth !== 0) throw new Error('not all deleted');
  // The last delete waits for a commit that does not come; closing makes it (a gateway closes
  // its buffer at shutdown). Without it, the next run would find those readings again.
  b.close();
`;

function fsyncsOf(dataDir: string): number {
  const summary = join(dir, 'strace.txt');
  execFileSync('strace', [
    '-f',
    '-c',
    '-e',
    'trace=fsync,fdatasync',
    '-o',
    summary,
    process.execPath,
    '--input-type=module',
    '-e',
    script,
    dataDir,
  ]);
  const text = readFileSync(summary, 'utf8');
  return [...text.matchAll(/^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(?:fsync|fdatasync)$/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );
}

test('synchronous FULL: one fsync per commit of readings, none of its own for deleting acknowledged ones', (t) => {
  // The first run creates the file (and its seq reservation); the second is the steady state.
  fsyncsOf(join(dir, 'data'));
  const n = fsyncsOf(join(dir, 'data'));
  t.diagnostic(`${n} fsyncs for ${ROUNDS} commits of readings and ${ROUNDS} deletes`);
  assert.ok(n >= ROUNDS, `every commit of readings fsynced: ${n} fsyncs for ${ROUNDS} commits`);
  assert.ok(
    n < ROUNDS * 1.2,
    `deletes not fsynced of their own: ${n} fsyncs for ${ROUNDS} commits and ${ROUNDS} deletes`,
  );
});
