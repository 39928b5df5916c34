import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { Ingest } from '../ingest/ingest.js';
import { Status } from '../status/status.js';
import { bufferDefaults, tempDir } from './support/pipeline-fixture.js';

function setup(commitIntervalMs = 20) {
  const buffer = SqliteBuffer.open(tempDir('sg-ingest-'), bufferDefaults);
  const clock = { bootId: 'boot-1', now: () => 1_700_000_000_000, synced: () => true };
  const status = new Status('gw1', '0.0.0', clock, () => buffer.stats());
  status.addSource('src', 'test');
  let stored = 0;
  const ingest = new Ingest(buffer, status, clock, { gateway: 'gw1', commitIntervalMs }, () => stored++);
  return { buffer, status, ingest, storedCalls: () => stored };
}

async function metric(status: Status, name: string): Promise<number> {
  const m = await status.registry.getSingleMetricAsString(name);
  return m
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

test('group commit: a thousand submissions in one window cost one transaction', async () => {
  const { buffer, status, ingest, storedCalls } = setup();
  const sink = ingest.sinkFor('src');
  const done = Array.from({ length: 1000 }, (_, i) => sink.submit([{ sensor: 'pump-1', metric: 'temp', value: i }]));
  await Promise.all(done);
  assert.equal(await metric(status, 'sensorgate_buffer_commits_total'), 1);
  assert.equal(storedCalls(), 1);
  assert.equal(buffer.stats().depth, 1000);
  assert.equal(await metric(status, 'sensorgate_readings_ingested_total'), 1000);
  buffer.close();
});

test('group commit: a few readings wait for commitIntervalMs; 256 are committed without waiting for it', async () => {
  const { buffer, status, ingest } = setup(10_000);
  const sink = ingest.sinkFor('src');
  const few = sink.submit(Array.from({ length: 10 }, (_, i) => ({ sensor: 'pump-1', metric: 'temp', value: i })));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(buffer.stats().depth, 0, 'ten readings wait for the interval (10 s here)');
  const many = sink.submit(Array.from({ length: 246 }, (_, i) => ({ sensor: 'pump-1', metric: 'temp', value: i })));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('not committed within 5 s')), 5000);
  });
  await Promise.race([Promise.all([few, many]), timeout]).finally(() => clearTimeout(timer));
  assert.equal(buffer.stats().depth, 256);
  assert.equal(await metric(status, 'sensorgate_buffer_commits_total'), 1, 'all in one commit');
  ingest.close();
  buffer.close();
});

test('the promise settles only once the reading is in the buffer, stamped as the contract says', async () => {
  const { buffer, ingest } = setup(50);
  const p = ingest.sinkFor('src').submit([
    { sensor: 'pump-1', metric: 'temp', value: 71.3, unit: 'C' },
    { sensor: 'pump-2', metric: 'rpm', value: 1500, ts: 42 },
  ]);
  assert.equal(buffer.stats().depth, 0, 'not durable before the commit window closes');
  await p;
  const [a, b] = buffer.lease(0, 10, 1 << 20);
  assert.equal(a!.key, 'gw1/pump-1');
  assert.deepEqual(JSON.parse(a!.value), {
    gateway: 'gw1',
    source: 'src',
    sensor: 'pump-1',
    metric: 'temp',
    value: 71.3,
    unit: 'C',
    ts: 1_700_000_000_000,
    seq: 1,
    bootId: 'boot-1',
    clockSynced: true,
  });
  assert.deepEqual(JSON.parse(b!.value), {
    gateway: 'gw1',
    source: 'src',
    sensor: 'pump-2',
    metric: 'rpm',
    value: 1500,
    ts: 42,
    seq: 2,
    bootId: 'boot-1',
    clockSynced: true,
  });
  buffer.close();
});

test('rejections are quarantined and counted by reason; invalid readings from a driver are refused too', async () => {
  const { buffer, status, ingest } = setup(0);
  await ingest.sinkFor('src').submit(
    [
      { sensor: 'bad name', metric: 'temp', value: 1 },
      { sensor: 'ok', metric: 'temp', value: Number.NaN },
      { sensor: 'ok', metric: 'temp', value: 2 },
    ],
    [{ reason: 'invalid_json', detail: 'Unexpected token', payload: '{bad' }],
  );
  assert.equal(buffer.stats().depth, 1);
  const text = await status.registry.getSingleMetricAsString('sensorgate_readings_rejected_total');
  assert.match(text, /reason="invalid_json",?[^\n]*\} 1|source="src",reason="invalid_json"\} 1/);
  assert.match(text, /reason="bad_name"[^\n]*\} 1/);
  assert.match(text, /reason="not_a_number"[^\n]*\} 1/);
  assert.deepEqual(
    buffer
      .quarantined(10)
      .map((q) => q.reason)
      .sort(),
    ['bad_name', 'invalid_json', 'not_a_number'],
  );
  buffer.close();
});

test('a rejection standing for many refused readings is counted as that many and quarantined once', async () => {
  const { buffer, status, ingest } = setup(0);
  await ingest.sinkFor('src').submit(
    [],
    [
      {
        reason: 'unknown_alias',
        detail: 'n: alias 1 (and 2999 more metrics of this message)',
        payload: 'x',
        count: 3000,
      },
    ],
  );
  assert.match(
    await status.registry.getSingleMetricAsString('sensorgate_readings_rejected_total'),
    /reason="unknown_alias"[^\n]*\} 3000/,
  );
  const source = status.snapshot().sources.find((s) => s.id === 'src')!;
  assert.deepEqual([source.rejected, source.rejectedByReason.unknown_alias], [3000, 3000]);
  assert.equal(buffer.quarantined(10).length, 1);
  buffer.close();
});

test('when the buffer write fails, every waiting driver hears it (so none acknowledges)', async () => {
  const { buffer, ingest } = setup(0);
  buffer.close();
  await assert.rejects(ingest.sinkFor('src').submit([{ sensor: 's', metric: 'm', value: 1 }]));
});
