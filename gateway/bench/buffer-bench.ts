/**
 * Buffer append: SqliteBuffer in group-commit transactions as ingest makes them, with
 * synchronous=FULL (the gateway's default: every commit is fsynced to the WAL) against OFF (no
 * fsync at all: the ceiling durability costs against), at several commit sizes: an fsync costs
 * about the same however many readings it covers, so FULL's price per reading falls as commits
 * grow. Each round runs every size, OFF then FULL, so that noise from the shared machine hits all
 * alike; the best round of each (size, mode) counts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BufferEntry } from '../buffer/buffer.js';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { encodeRecord, recordKey } from '../ingest/record.js';
import { writeBytes } from './proc.js';
import { METRIC, readingValue, sensorOf } from './workload.js';

export type Synchronous = 'FULL' | 'OFF';

export interface BufferRun {
  synchronous: Synchronous;
  round: number;
  readingsPerCommit: number;
  readings: number;
  seconds: number;
  readingsPerSecond: number;
  /** Transactions; under FULL each one is an fsync of the WAL (checkpoints add a few more). */
  commits: number;
  /** Bytes this process caused to be written to storage (WAL, checkpoints), per reading. */
  bytesPerReading: number;
}

/** One commit size: the best round of each mode. */
export interface BufferSize {
  readingsPerCommit: number;
  best: Record<Synchronous, BufferRun>;
  /** best FULL readings/s divided by best OFF readings/s. */
  fullOverOff: number;
}

export interface BufferBenchResult {
  readingsPerRun: number;
  rounds: number;
  /** Ascending by readingsPerCommit. */
  sizes: BufferSize[];
  runs: BufferRun[];
  /** The commit size the target is evaluated at, and why that one. */
  evaluatedAt: { readingsPerCommit: number; why: string };
  /** The buffer as a steady stream uses it (see queueRun()), by how often acknowledgements come. */
  queue: QueueRun[];
}

/** Bytes written per reading by the buffer as a queue, FULL, at QUEUE_COMMIT readings per commit. */
export interface QueueRun {
  /** Commits between acknowledgements (the forwarder's linger makes it 2.5 at 500 readings/s). */
  ackEvery: number;
  readings: number;
  bytesPerReading: number;
}

/** A steady 500 readings/s commits about this many at a time (a commit at most every 100 ms). */
const QUEUE_COMMIT = 50;
/** Acknowledgements after every commit, and as the 250 ms linger and slower uplinks space them. */
const QUEUE_ACK_EVERY = [1, 2.5, 5];

const GATEWAY = 'bench-buffer';
const BOOT_ID = '6f1c2a4e-8d1b-4c3a-9e5f-2b7d0a9c8e41';

function entry(i: number, ts: number): BufferEntry {
  const sensor = sensorOf(i);
  const value = readingValue(i);
  return {
    key: recordKey(GATEWAY, sensor),
    ts,
    encode: (seq) =>
      encodeRecord({
        gateway: GATEWAY,
        source: 'mqtt',
        sensor,
        metric: METRIC,
        value,
        ts,
        seq,
        bootId: BOOT_ID,
        clockSynced: true,
      }),
  };
}

function appendRun(
  workDir: string,
  synchronous: Synchronous,
  round: number,
  readings: number,
  perCommit: number,
): BufferRun {
  const dir = mkdtempSync(join(workDir, `buffer-${synchronous}-`));
  const buffer = SqliteBuffer.open(dir, {
    maxBytes: 1024 ** 3,
    whenFull: 'drop-oldest',
    synchronous,
    quarantineMaxRows: 10_000,
  });
  try {
    const written0 = writeBytes();
    const t0 = performance.now();
    let commits = 0;
    for (let i = 0; i < readings; ) {
      const batch: BufferEntry[] = [];
      const ts = Date.now();
      for (const end = Math.min(readings, i + perCommit); i < end; i++) batch.push(entry(i, ts));
      buffer.append(batch);
      commits++;
    }
    const seconds = (performance.now() - t0) / 1000;
    const written = writeBytes() - written0;
    return {
      synchronous,
      round,
      readingsPerCommit: perCommit,
      readings,
      seconds,
      readingsPerSecond: readings / seconds,
      commits,
      bytesPerReading: written / readings,
    };
  } finally {
    buffer.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The buffer as a queue: commits of QUEUE_COMMIT readings, and every `ackEvery` commits what was
 * committed is leased and acknowledged (its delete rides the next commit, as in the gateway). What
 * a steady stream writes to flash per reading, deletes included, without Kafka or MQTT around it.
 */
function queueRun(workDir: string, ackEvery: number, readings: number): QueueRun {
  const dir = mkdtempSync(join(workDir, 'queue-'));
  const buffer = SqliteBuffer.open(dir, {
    maxBytes: 1024 ** 3,
    whenFull: 'drop-oldest',
    synchronous: 'FULL',
    quarantineMaxRows: 10_000,
  });
  try {
    let i = 0;
    let commits = 0;
    let nextAck = ackEvery;
    let cursor = 0;
    const commit = () => {
      const ts = Date.now();
      buffer.append(Array.from({ length: QUEUE_COMMIT }, () => entry(i++, ts)));
      if (++commits < nextAck) return;
      nextAck += ackEvery;
      const leased = buffer.lease(cursor, 10_000, 1 << 30);
      buffer.ack(leased[0]!.seq, leased[leased.length - 1]!.seq);
      cursor = leased[leased.length - 1]!.seq;
    };
    // Past the file's first growth, so that what is measured is the steady cycle of pages.
    while (i < 5_000) commit();
    const written0 = writeBytes();
    const first = i;
    while (i - first < readings) commit();
    return { ackEvery, readings: i - first, bytesPerReading: (writeBytes() - written0) / (i - first) };
  } finally {
    buffer.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function benchBuffer(
  workDir: string,
  o: {
    readings: number;
    perCommit: number[];
    rounds: number;
    evaluateAt: BufferBenchResult['evaluatedAt'];
    onRun?: (r: BufferRun) => void;
  },
): BufferBenchResult {
  const perCommit = [...new Set([...o.perCommit, o.evaluateAt.readingsPerCommit])].sort((a, b) => a - b);
  const runs: BufferRun[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const size of perCommit) {
      for (const synchronous of ['OFF', 'FULL'] as const) {
        const run = appendRun(workDir, synchronous, round, o.readings, size);
        runs.push(run);
        o.onRun?.(run);
      }
    }
  }
  const sizes = perCommit.map((size): BufferSize => {
    const best = (s: Synchronous) =>
      runs
        .filter((r) => r.readingsPerCommit === size && r.synchronous === s)
        .reduce((a, b) => (b.readingsPerSecond > a.readingsPerSecond ? b : a));
    const full = best('FULL');
    const off = best('OFF');
    return {
      readingsPerCommit: size,
      best: { FULL: full, OFF: off },
      fullOverOff: full.readingsPerSecond / off.readingsPerSecond,
    };
  });
  const queue = QUEUE_ACK_EVERY.map((ackEvery) => queueRun(workDir, ackEvery, Math.min(o.readings, 50_000)));
  return { readingsPerRun: o.readings, rounds: o.rounds, sizes, runs, evaluatedAt: o.evaluateAt, queue };
}
