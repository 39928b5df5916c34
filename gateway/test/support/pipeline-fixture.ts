/**
 * What tests that build part of the pipeline by hand share: temporary data dirs, the buffer options
 * they start from, a status over a buffer, forwarder settings, and a logger whose lines the test reads.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import type { BufferOptions } from '../../buffer/buffer.js';
import type { SqliteBuffer } from '../../buffer/sqlite-buffer.js';
import type { ForwarderOptions } from '../../forwarder/forwarder.js';
import { Status } from '../../status/status.js';

/** A 1 GiB cap that drops the oldest, fsynced commits, 100 quarantined rows kept. */
export const bufferDefaults: BufferOptions = {
  maxBytes: 1 << 30,
  whenFull: 'drop-oldest',
  synchronous: 'FULL',
  quarantineMaxRows: 100,
};

const dirs: string[] = [];

/**
 * A new directory under the system's temp dir, removed when the test process exits (each test file
 * runs in a process of its own), whatever its tests left in it.
 */
export function tempDir(prefix = 'sg-test-'): string {
  if (dirs.length === 0) {
    process.once('exit', () => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** The status of gateway `gatewayId` over `buffer`, on a clock that is always synced. */
export function statusOf(gatewayId: string, buffer: SqliteBuffer): Status {
  return new Status(gatewayId, 'test', { bootId: 'b', synced: () => true }, () => buffer.stats());
}

/** Batches of 1000 readings or 1 MiB sent at once, retries from 100 ms to 1 s, calls bounded at a minute, in order. */
export function forwarderOptions(over: Partial<ForwarderOptions> = {}): ForwarderOptions {
  return {
    batchMaxRecords: 1000,
    batchMaxBytes: 1 << 20,
    backoff: { initialMs: 100, maxMs: 1000 },
    stopTimeoutMs: 5000,
    callTimeoutMs: 60_000,
    drain: 'in-order',
    lingerMs: 0,
    ...over,
  };
}

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** A logger at `level` whose lines (parsed) collect in `lines`. */
export function capturedLog(level: string): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: pino({ level }, sink), lines };
}
