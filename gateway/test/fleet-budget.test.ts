/**
 * The fleet server's memory budget against a hostile status topic: what a status costs is what is
 * kept of it, and a full budget stops new gateways without silencing the ones already known.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { configSchema } from '../config/config.js';
import { FleetServer } from '../offsite/fleet/fleet-server.js';
import type { FeedRecord, StatusFeed } from '../offsite/fleet/kafka-status-feed.js';
import { MAX_STATUS_BYTES } from '../offsite/fleet/status-record.js';
import type { ViewEntry } from '../web/view-store.js';
import { statusDoc as status } from './support/status-doc.js';

/** A status topic the test writes to: records reach the fleet server as a live feed hands them over. */
class TestFeed implements StatusFeed {
  private onRecord: ((r: FeedRecord) => void) | undefined;
  start(onRecord: (r: FeedRecord) => void): Promise<void> {
    this.onRecord = onRecord;
    return Promise.resolve();
  }
  health() {
    return { connected: true, lastError: null, lastFetchTs: Date.now() };
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  push(key: string, value: string | null): void {
    this.onRecord!({
      key: Buffer.from(key),
      value: value === null ? null : Buffer.from(value),
      ts: Date.now(),
      live: true,
    });
  }
}

async function fleet(opts: { maxBytes?: number } = {}) {
  const feed = new TestFeed();
  const f = new FleetServer({
    kafka: configSchema.shape.kafka.parse({ brokers: ['127.0.0.1:9'] }),
    host: '127.0.0.1',
    port: 0,
    log: pino({ level: 'silent' }),
    feed,
    ...opts,
  });
  await f.start();
  return { f, feed };
}

const gateways = async (f: FleetServer) => (await (await fetch(`${f.url}/api/gateways`)).json()) as ViewEntry[];

test('a forged status padded with unknown fields is kept without them and charged for what is kept', async () => {
  const { f, feed } = await fleet();
  try {
    // Empty objects cost 3 bytes each in the record and far more in heap once parsed.
    const base = JSON.stringify(status('x', { pad: [] }));
    const n = Math.floor((MAX_STATUS_BYTES - base.length - 100) / 3);
    const N = 50;
    for (let i = 0; i < N; i++) {
      const value = JSON.stringify(status(`forged-${i}`, { pad: [] })).replace(
        '"pad":[]',
        `"pad":[${'{},'.repeat(n)}{}]`,
      );
      assert.ok(value.length > MAX_STATUS_BYTES - 200 && value.length <= MAX_STATUS_BYTES);
      feed.push(`forged-${i}`, value);
    }
    assert.equal(f.store.size, N, 'valid statuses: all accepted');
    const list = await gateways(f);
    assert.equal(list.length, N);
    let kept = 0;
    for (const g of list) {
      assert.equal('pad' in g, false, 'the unknown field is not kept');
      const { online: _o, lastSeenTs: _l, state: _s, ...st } = g;
      kept += Buffer.byteLength(JSON.stringify(st));
    }
    assert.equal(f.store.totalBytes, kept, 'the budget is charged exactly what is kept');
    assert.ok(
      f.store.totalBytes < N * 1024,
      `${f.store.totalBytes} bytes charged for ${N} statuses of a few hundred bytes`,
    );
  } finally {
    await f.stop();
  }
});

test('with the byte budget full, a known gateway whose status grows is still heard and stays online', async () => {
  const { f, feed } = await fleet({ maxBytes: 20_000 });
  try {
    // The real gateway heartbeats every 250 ms; its counter is about to gain a digit.
    let sent = 0;
    const beat = () =>
      feed.push(
        'line3-pi07',
        JSON.stringify(
          status('line3-pi07', {
            heartbeatIntervalMs: 250,
            uplink: { connected: true, lastAckTs: Date.now(), lastError: null, sent: sent++ },
          }),
        ),
      );
    beat();
    // Forged gateways fill the budget; the last one grows a byte at a time until it is full to the byte.
    const forged = (id: string, n: number) =>
      JSON.stringify(
        status(id, {
          sources: [
            {
              id: 's',
              driver: 'mqtt',
              state: 'down',
              detail: 'x'.repeat(n),
              lastReadingTs: null,
              readings: 0,
              rejected: 0,
            },
          ],
        }),
      );
    for (let i = 0; f.store.totalBytes < 20_000 - 2500; i++) feed.push(`forged-${i}`, forged(`forged-${i}`, 1500));
    for (let n = 0; n <= 2000 && f.store.totalBytes < 20_000; n++) feed.push('forged-last', forged('forged-last', n));
    assert.equal(f.store.totalBytes, 20_000, 'the budget is full');
    feed.push('forged-new', forged('forged-new', 0));
    assert.equal(f.store.size, 1 + (await gateways(f)).filter((g) => g.gateway.startsWith('forged-')).length);
    assert.ok(!(await gateways(f)).some((g) => g.gateway === 'forged-new'), 'a new gateway is refused');

    for (let t = 0; t < 20; t++) {
      await new Promise((r) => setTimeout(r, 100));
      beat(); // from sent 1 to 20: the status grows by a byte at 10
    }
    const gw = (await gateways(f)).find((g) => g.gateway === 'line3-pi07')!;
    assert.equal(gw.state, 'online', '2 s of heartbeats (8 intervals) after the budget filled');
    assert.ok(Date.now() - gw.lastSeenTs < 250, 'heard at its last heartbeat');
    assert.equal(gw.uplink.sent, 9, 'the status that grew was not kept: its last figures show');
    const state = (await (await fetch(`${f.url}/api/fleet`)).json()) as {
      gateways: { refusedRecords: number };
      notKeptRecords: number;
    };
    assert.equal(state.gateways.refusedRecords, 1, 'refused: only the new gateway');
    assert.equal(state.notKeptRecords, 11, 'heard but not kept: the heartbeats with sent 10 to 20');

    feed.push('forged-0', null); // room again: the next heartbeat is kept
    beat();
    assert.equal((await gateways(f)).find((g) => g.gateway === 'line3-pi07')!.uplink.sent, 21);
  } finally {
    await f.stop();
  }
});
