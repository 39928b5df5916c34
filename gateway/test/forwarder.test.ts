/**
 * The forwarder against a working in-memory uplink (support/memory-uplink.ts) and a real SQLite
 * buffer: what it promises (README: Delivery promise) when the uplink fails, refuses records,
 * or hangs while the gateway stops. The same forwarder against real Kafka: kafka-uplink.system.test.ts.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import type { BufferEntry, StoredRecord } from '../buffer/buffer.js';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { Forwarder, type ForwarderOptions } from '../forwarder/forwarder.js';
import { seqsInFile } from './support/buffer-file.js';
import { waitFor } from './support/gateway-process.js';
import { MemoryUplink } from './support/memory-uplink.js';
import { bufferDefaults, capturedLog, statusOf, tempDir } from './support/pipeline-fixture.js';

const fast: ForwarderOptions = {
  batchMaxRecords: 40,
  batchMaxBytes: 1 << 20,
  backoff: { initialMs: 5, maxMs: 40 },
  stopTimeoutMs: 5000,
  callTimeoutMs: 10_000,
  drain: 'in-order',
  lingerMs: 0,
};

/** A buffer in a fresh temp dir (or `dir`), a forwarder on `uplink`, and the log lines it writes. */
function rig(uplink: MemoryUplink, opts: Partial<ForwarderOptions> = {}, dir?: string) {
  const dataDir = dir ?? tempDir('sg-fwd-');
  const buffer = SqliteBuffer.open(dataDir, { ...bufferDefaults, whenFull: 'reject-new', synchronous: 'NORMAL' });
  const { log, lines } = capturedLog('info');
  const status = statusOf('gw', buffer);
  const forwarder = new Forwarder(buffer, uplink, status, log, { ...fast, ...opts });
  return { dataDir, buffer, status, forwarder, lines };
}

/** Readings of sensors s0, s1 …, each counting 0, 1, 2 …; `pad` characters make them large. */
class Readings {
  readonly next: number[];
  constructor(sensors: number) {
    this.next = Array.from({ length: sensors }, () => 0);
  }
  take(n: number, pad = 0): BufferEntry[] {
    return Array.from({ length: n }, (_, i) => {
      const sensor = i % this.next.length;
      const value = this.next[sensor]!++;
      return {
        key: `gw/s${sensor}`,
        ts: value,
        encode: (seq: number) =>
          JSON.stringify({ sensor: `s${sensor}`, value, seq, ...(pad ? { pad: 'x'.repeat(pad) } : {}) }),
      };
    });
  }
  get total(): number {
    return this.next.reduce((a, b) => a + b, 0);
  }
}

/**
 * What a consumer sees is complete and in order: the first copy of each seq comes in seq order,
 * every seq from 1 to `lastSeq` is there (but `missing`), and a repeated seq is a true duplicate
 * (the same reading). Returns how many copies were duplicates.
 */
function assertDelivered(log: StoredRecord[], lastSeq: number, missing: Set<number> = new Set()): number {
  const first = new Map<number, StoredRecord>();
  for (const r of log) {
    const seen = first.get(r.seq);
    if (seen) assert.deepEqual([r.key, r.value], [seen.key, seen.value], `seq ${r.seq} names one reading`);
    else first.set(r.seq, r);
  }
  const expected = Array.from({ length: lastSeq }, (_, i) => i + 1).filter((s) => !missing.has(s));
  assert.deepEqual([...first.keys()], expected, 'every reading, the first copy of each in seq order');
  return log.length - first.size;
}

test('outages, rejected sends and lost acknowledgements while readings flow: nothing lost, duplicates only of what was delivered unacknowledged', async () => {
  const uplink = new MemoryUplink();
  const { buffer, forwarder, status } = rig(uplink);
  const readings = new Readings(3);
  forwarder.start();
  try {
    for (let round = 0; round < 30; round++) {
      buffer.append(readings.take(25));
      forwarder.notify();
      if (round % 5 === 1) uplink.failNext('reject', 'lost-ack');
      if (round % 5 === 3) uplink.failNext('lost-ack', 'lost-ack', 'reject');
      if (round % 10 === 6) {
        uplink.down = true;
        buffer.append(readings.take(60)); // taken in while the uplink is down
        forwarder.notify();
        await waitFor('the outage noticed', () => !status.snapshot().uplink.connected);
        uplink.down = false;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await waitFor('everything sent', () => buffer.stats().depth === 0, 30_000);
  } finally {
    await forwarder.stop();
    buffer.close();
  }
  assert.ok(uplink.unacknowledged > 0, 'acknowledgements were lost');
  assert.equal(assertDelivered(uplink.log, readings.total), uplink.unacknowledged);
});

test('exactly-once: a batch whose commit was not acknowledged is not sent again; the next session starts after it', async () => {
  const uplink = new MemoryUplink(true);
  const { buffer, forwarder } = rig(uplink);
  const readings = new Readings(2);
  forwarder.start();
  try {
    for (let round = 0; round < 20; round++) {
      buffer.append(readings.take(30));
      forwarder.notify();
      if (round % 3 === 0) uplink.failNext('lost-ack');
      if (round % 4 === 1) uplink.failNext('reject', 'lost-ack', 'lost-ack');
      await new Promise((r) => setTimeout(r, 10));
    }
    await waitFor('everything sent', () => buffer.stats().depth === 0, 30_000);
  } finally {
    await forwarder.stop();
    buffer.close();
  }
  assert.ok(uplink.unacknowledged > 0, 'commits were left unacknowledged');
  assert.equal(assertDelivered(uplink.log, readings.total), 0, 'no duplicates');
});

test('records the uplink refuses as too large are quarantined; the others are delivered once, in order', async () => {
  const uplink = new MemoryUplink();
  uplink.maxRecordBytes = 1000;
  const { buffer, forwarder, status } = rig(uplink, { batchMaxRecords: 7 });
  const readings = new Readings(2);
  // Large ones at the start, the middle and the end of batches, and two in a row.
  // In batches of 7 (1-7, 8-14 …), large ones open a batch, close one, and come two in a row.
  for (const [normal, large] of [
    [0, 1],
    [6, 1],
    [5, 1],
    [4, 2],
    [6, 1],
  ])
    buffer.append([...readings.take(normal!), ...readings.take(large!, 2000)]);
  buffer.append(readings.take(5));
  const big = new Set([1, 8, 14, 19, 20, 27]);
  forwarder.start();
  try {
    await waitFor('the buffer drained', () => buffer.stats().depth === 0, 30_000);
    const quarantined = buffer.quarantined(100).reverse();
    assert.deepEqual(
      quarantined.map((q) => [q.reason, q.detail.match(/^seq (\d+): /)?.[1]]),
      [...big].map((s) => ['kafka_too_large', String(s)]),
    );
    assert.ok(
      quarantined.every((q) => q.source === 'uplink' && q.payload!.length === 1024),
      'a prefix kept',
    );
    assert.match(
      await status.registry.getSingleMetricAsString('sensorgate_readings_dropped_total'),
      /reason="kafka_too_large"\} 6/,
    );
  } finally {
    await forwarder.stop();
    buffer.close();
  }
  assert.equal(assertDelivered(uplink.log, readings.total, big), 0, 'each once');
});

/** The gateway started again on the same data dir and uplink, taking `entries` in: runs until its buffer is empty. */
async function restart(uplink: MemoryUplink, dataDir: string, entries: BufferEntry[]): Promise<void> {
  const again = rig(uplink, {}, dataDir);
  again.buffer.append(entries);
  again.forwarder.start();
  try {
    await waitFor('the buffer sent after the restart', () => again.buffer.stats().depth === 0);
  } finally {
    await again.forwarder.stop();
    again.buffer.close();
  }
}

test('stop while a send hangs returns within stopTimeoutMs; the batch stays buffered and is sent after a restart', {
  timeout: 15_000,
}, async () => {
  const uplink = new MemoryUplink();
  // The call bound outlasts the test timeout: only stop() may end the wait, and a stop() that
  // waited for the hung send fails the test instead of passing late.
  const first = rig(uplink, { stopTimeoutMs: 300, callTimeoutMs: 20_000 });
  const readings = new Readings(2);
  first.buffer.append(readings.take(10));
  first.forwarder.start();
  await waitFor('the first batch sent', () => first.buffer.stats().depth === 0);
  uplink.failNext('hang');
  first.buffer.append(readings.take(15));
  first.forwarder.notify();
  await waitFor('a send hanging', () => uplink.hanging);
  await first.forwarder.stop();
  assert.ok(uplink.hanging, 'stop() returned while the send still hangs');
  assert.ok(first.lines.some((l) => l.level === 40 && /in-flight batch abandoned/.test(l.msg)));
  assert.equal(first.status.snapshot().uplink.connected, false);
  // The hung request reaches Kafka after all, too late for the stopped forwarder to hear of it.
  uplink.release(true);
  await new Promise((r) => setImmediate(r));
  assert.equal(first.buffer.stats().depth, 15, 'the in-flight batch is still buffered');
  first.buffer.close();

  await restart(uplink, first.dataDir, readings.take(5));
  assert.equal(assertDelivered(uplink.log, readings.total), 15, 'only the abandoned batch came twice');
});

test('a batch Kafka acknowledges while the forwarder stops is deleted, not sent again after a restart', async () => {
  const uplink = new MemoryUplink();
  const first = rig(uplink, { stopTimeoutMs: 5000 });
  const readings = new Readings(2);
  first.buffer.append(readings.take(10));
  uplink.failNext('hang');
  first.forwarder.start();
  await waitFor('a send hanging', () => uplink.hanging);
  const stopping = first.forwarder.stop();
  await new Promise((r) => setTimeout(r, 50));
  uplink.release(true); // acknowledged well within stopTimeoutMs
  await stopping;
  assert.ok(!first.lines.some((l) => /abandoned/.test(l.msg)), 'the batch was not abandoned');
  assert.equal(first.buffer.stats().depth, 0, 'the acknowledged batch is deleted');
  first.buffer.close();

  await restart(uplink, first.dataDir, readings.take(5));
  assert.equal(assertDelivered(uplink.log, readings.total), 0, 'no reading came twice');
});

/** (sensor, value) names a reading of Readings, whatever seq it was given. */
const identity = (r: StoredRecord) => {
  const { sensor, value } = JSON.parse(r.value) as { sensor: string; value: number };
  return `${sensor}=${value}`;
};

for (const transactional of [true, false]) {
  const mode = transactional ? 'exactly-once' : 'at-least-once';
  test(`${mode}: a data dir lost whole starts over at seq 1; its readings are renumbered above what Kafka has, none deleted, no seq reused`, async () => {
    const uplink = new MemoryUplink(transactional);
    const readings = new Readings(2);
    const old = rig(uplink);
    old.buffer.anchor(0);
    old.buffer.append(readings.take(7));
    old.forwarder.start();
    try {
      await waitFor('the old readings sent', () => old.buffer.stats().depth === 0, 30_000);
    } finally {
      await old.forwarder.stop();
    }
    // At-least-once, Kafka knows the seqs only from the statuses; here none reached it exactly-once.
    if (!transactional) uplink.statusFloor = old.buffer.stats().seqReserved - 1;
    const floor = transactional ? 7 : uplink.statusFloor!;
    old.buffer.close();
    rmSync(old.dataDir, { recursive: true });

    const fresh = rig(uplink, {}, old.dataDir);
    assert.equal(fresh.buffer.anchored, false);
    fresh.buffer.append(readings.take(5)); // before the uplink connects
    assert.deepEqual(
      fresh.buffer.lease(0, 100, 1 << 20).map((r) => r.seq),
      [1, 2, 3, 4, 5],
      'seqs Kafka already has',
    );
    fresh.forwarder.start();
    try {
      await waitFor('the new readings sent', () => fresh.buffer.stats().depth === 0, 30_000);
      fresh.buffer.append(readings.take(3)); // and after it
      fresh.forwarder.notify();
      await waitFor('the live readings sent', () => fresh.buffer.stats().depth === 0, 30_000);
    } finally {
      await fresh.forwarder.stop();
      fresh.buffer.close();
    }
    assert.equal(uplink.log.length, readings.total, 'every reading once');
    assert.equal(new Set(uplink.log.map(identity)).size, readings.total, 'none deleted as already sent');
    assert.equal(new Set(uplink.log.map((r) => r.seq)).size, readings.total, 'no seq reused');
    assert.deepEqual(
      uplink.log.slice(7).map((r) => r.seq),
      Array.from({ length: 8 }, (_, i) => floor + 1 + i),
      'the new readings follow what Kafka has, in order',
    );
    for (const r of uplink.log) assert.equal(JSON.parse(r.value).seq, r.seq, 'each record carries its seq');
    assert.ok(
      fresh.lines.some((l) =>
        l.msg.includes(
          `fresh buffer: seqs continue after ${floor}, which Kafka already has for this gateway; 5 buffered`,
        ),
      ),
    );
  });
}

test('an anchored buffer is numbered on as it is: nothing renumbered, whatever Kafka says', async () => {
  const uplink = new MemoryUplink();
  const first = rig(uplink);
  const readings = new Readings(1);
  first.forwarder.start();
  await waitFor('anchored', () => first.buffer.anchored, 30_000);
  await first.forwarder.stop();
  first.buffer.append(readings.take(4)); // taken in while the uplink was stopped
  first.buffer.close();
  uplink.statusFloor = 1_000_000;
  const again = rig(uplink, {}, first.dataDir);
  again.forwarder.start();
  try {
    await waitFor('everything sent', () => again.buffer.stats().depth === 0, 30_000);
  } finally {
    await again.forwarder.stop();
    again.buffer.close();
  }
  assertDelivered(uplink.log, 4);
  assert.ok(!again.lines.some((l) => l.msg.includes('fresh buffer')));
});

/**
 * A forwarder lingering far longer than any test waits (whatever is sent within one did not
 * linger), started, and its first reading sent at once (after a quiet spell): the next small batch waits.
 */
async function lingering(opts: Partial<ForwarderOptions> = {}) {
  const uplink = new MemoryUplink();
  const r = rig(uplink, { lingerMs: 600_000, ...opts });
  const readings = new Readings(2);
  const feed = (entries: BufferEntry[]) => {
    r.buffer.append(entries);
    r.forwarder.notify();
  };
  r.forwarder.start();
  await waitFor('anchored', () => r.buffer.anchored, 30_000);
  feed(readings.take(1));
  await waitFor('the first reading sent', () => uplink.log.length === 1, 30_000);
  return { uplink, r, readings, feed };
}

test('lingerMs: a small batch waits for more; a reading after a quiet spell and full batches go at once', async () => {
  const { uplink, r, readings, feed } = await lingering();
  try {
    feed(readings.take(2 * fast.batchMaxRecords));
    await waitFor('two full batches sent', () => uplink.log.length === 1 + 2 * fast.batchMaxRecords, 30_000);
    // Under a tenth of batchMaxRecords: small. While it waits, readings that make it a tenth end the wait.
    const tenth = fast.batchMaxRecords / 10;
    feed(readings.take(tenth - 1));
    await new Promise((resolve) => setTimeout(resolve, 200)); // time to lease them and begin the wait
    feed(readings.take(1));
    await waitFor(
      'the batch sent once a tenth',
      () => uplink.log.length === 1 + 2 * fast.batchMaxRecords + tenth,
      30_000,
    );
    feed(readings.take(3));
  } finally {
    await r.forwarder.stop();
  }
  assert.equal(r.buffer.stats().depth, 3, 'the small batch was still waiting for more');
  r.buffer.close();
  assertDelivered(uplink.log, 1 + 2 * fast.batchMaxRecords + fast.batchMaxRecords / 10);
});

test('lingerMs: readings that make a waiting batch a tenth of batchMaxBytes end the wait, as a tenth of batchMaxRecords does', async () => {
  // A tenth of the bytes is 1,200: two readings padded by 400 (about 475 bytes each) are small,
  // three are not, while three readings are still under a tenth of batchMaxRecords (4).
  const { uplink, r, readings, feed } = await lingering({ batchMaxBytes: 12_000 });
  try {
    feed(readings.take(2, 400));
    await new Promise((resolve) => setTimeout(resolve, 200)); // time to lease them and begin the wait
    assert.equal(uplink.log.length, 1, 'two large readings are still a small batch: it waits');
    feed(readings.take(1, 400));
    await waitFor('the batch sent once a tenth of the bytes', () => uplink.log.length === 4, 30_000);
  } finally {
    await r.forwarder.stop();
    r.buffer.close();
  }
  assert.ok(
    uplink.log.slice(1).every((rec) => rec.bytes * 2 * 10 < 12_000 && rec.bytes * 3 * 10 > 12_000),
    'the padded readings weigh what the comment says',
  );
  assertDelivered(uplink.log, 4);
});

test('once no readings come, what Kafka acknowledged last is deleted from the file, not left for the next commit', async () => {
  const uplink = new MemoryUplink();
  const r = rig(uplink);
  r.forwarder.start();
  try {
    await waitFor('anchored', () => r.buffer.anchored, 30_000);
    r.buffer.append(new Readings(2).take(10));
    r.forwarder.notify();
    await waitFor('sent', () => uplink.log.length === 10, 30_000);
    await waitFor('the acknowledged rows deleted', () => seqsInFile(r.dataDir).length === 0, 30_000);
  } finally {
    await r.forwarder.stop();
    r.buffer.close();
  }
});

/** live-first: what a consumer sees is complete, and each lane (backlog, live) in seq order. */
function assertLiveFirst(log: StoredRecord[], lastSeq: number, boundary: number): void {
  const firsts = [...new Map(log.map((r) => [r.seq, r] as const)).keys()];
  assert.deepEqual(
    [...firsts].sort((a, b) => a - b),
    Array.from({ length: lastSeq }, (_, i) => i + 1),
    'every reading',
  );
  const backlog = firsts.filter((s) => s <= boundary);
  const live = firsts.filter((s) => s > boundary);
  assert.deepEqual(
    backlog,
    [...backlog].sort((a, b) => a - b),
    'the backlog in seq order',
  );
  assert.deepEqual(
    live,
    [...live].sort((a, b) => a - b),
    'live readings in seq order',
  );
}

test('live-first: readings that arrive while a backlog drains are sent before the rest of it', async () => {
  const uplink = new MemoryUplink();
  uplink.down = true;
  const { buffer, forwarder, lines } = rig(uplink, { drain: 'live-first' });
  const readings = new Readings(3);
  buffer.append(readings.take(400)); // ten batches, taken in while Kafka was away
  uplink.failNext('hang');
  forwarder.start();
  try {
    uplink.down = false;
    forwarder.notify();
    await waitFor('the first backlog batch in flight', () => uplink.hanging, 30_000);
    buffer.append(readings.take(10)); // live, while the backlog drains
    uplink.release(true);
    await waitFor('everything sent', () => buffer.stats().depth === 0, 30_000);
  } finally {
    await forwarder.stop();
    buffer.close();
  }
  assert.deepEqual(
    uplink.log.slice(0, 50).map((r) => r.seq),
    [...Array.from({ length: 40 }, (_, i) => i + 1), ...Array.from({ length: 10 }, (_, i) => 401 + i)],
    'the live readings went right after the batch in flight, ahead of 360 older ones',
  );
  assertLiveFirst(uplink.log, 410, 400);
  assert.ok(lines.some((l) => /backlog: new readings go first/.test(l.msg)));
  assert.ok(lines.some((l) => /backlog drained/.test(l.msg)));
});

test('in-order: the same backlog goes out strictly in seq order, live readings behind it', async () => {
  const uplink = new MemoryUplink();
  const { buffer, forwarder } = rig(uplink);
  const readings = new Readings(3);
  buffer.append(readings.take(400));
  uplink.failNext('hang');
  forwarder.start();
  try {
    await waitFor('the first batch in flight', () => uplink.hanging, 30_000);
    buffer.append(readings.take(10));
    uplink.release(true);
    await waitFor('everything sent', () => buffer.stats().depth === 0, 30_000);
  } finally {
    await forwarder.stop();
    buffer.close();
  }
  assert.equal(assertDelivered(uplink.log, 410), 0);
});

test('live-first through rejected sends, lost acknowledgements, outages and a restart mid-drain: nothing lost', async () => {
  const uplink = new MemoryUplink();
  uplink.down = true;
  const first = rig(uplink, { drain: 'live-first', stopTimeoutMs: 200 });
  const readings = new Readings(4);
  first.buffer.append(readings.take(2000));
  first.forwarder.start();
  uplink.down = false;
  first.forwarder.notify();
  for (let round = 0; round < 10; round++) {
    first.buffer.append(readings.take(15));
    first.forwarder.notify();
    if (round % 3 === 1) uplink.failNext('reject', 'lost-ack');
    await new Promise((r) => setTimeout(r, 5));
  }
  // Stop with a batch in flight that never reaches Kafka: whatever is left is sent after the restart.
  uplink.failNext('hang');
  first.buffer.append(readings.take(15));
  first.forwarder.notify();
  await waitFor('a send hanging', () => uplink.hanging, 30_000);
  await first.forwarder.stop();
  uplink.release(false);
  assert.ok(first.buffer.stats().depth > 0);
  first.buffer.close();
  const second = rig(uplink, { drain: 'live-first' }, first.dataDir);
  second.buffer.append(readings.take(20));
  second.forwarder.start();
  try {
    await waitFor('everything sent', () => second.buffer.stats().depth === 0, 30_000);
  } finally {
    await second.forwarder.stop();
    second.buffer.close();
  }
  const seqs = new Set(uplink.log.map((r) => r.seq));
  assert.equal(seqs.size, readings.total, 'every reading');
  assert.equal(new Set(uplink.log.map(identity)).size, readings.total, 'each under one seq');
  assert.ok(uplink.log.length - seqs.size <= uplink.unacknowledged, 'duplicates only of unacknowledged sends');
});
