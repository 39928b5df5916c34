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
  push(key: string, value: string): void {
    this.onRecord!({ key: Buffer.from(key), value: Buffer.from(value), ts: Date.now(), live: true });
  }
}

function status(gateway: string, extra: Record<string, unknown> = {}) {
  const now = Date.now();
  return {
    gateway,
    version: '0.1.0',
    ts: now,
    uptimeS: 10,
    heartbeatIntervalMs: 1000,
    buffer: { depth: 0, bytes: 0, oldestTs: null },
    uplink: { connected: true, lastAckTs: now, lastError: null, sent: 0 },
    sources: [{ id: 's', driver: 'mqtt', state: 'up', lastReadingTs: null, readings: 0, rejected: 0 }],
    problems: [],
    ...extra,
  };
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
