/**
 * Live updates (/api/events) over a real HTTP server and real sockets: a page that stops reading
 * is dropped even when nothing changes, and the stream's answers carry the security headers.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { test } from 'node:test';
import { statusSchema } from '../status/status-document.js';
import { EventHub } from '../web/event-hub.js';
import { CONTENT_SECURITY_POLICY, close, listen } from '../web/http.js';
import { ViewStore } from '../web/view-store.js';
import { statusDoc } from './support/status-doc.js';

/** A store of `gateways` quiet gateways (an hour between heartbeats), each status about `sourceCount` × 100 bytes. */
function quietStore(gateways: number, sourceCount: number): ViewStore {
  const store = new ViewStore();
  const now = Date.now();
  const sources = Array.from({ length: sourceCount }, (_, i) => ({
    id: `source-${i}-${'x'.repeat(40)}`,
    driver: 'mqtt',
    state: 'up',
    lastReadingTs: null,
    readings: 0,
    rejected: 0,
  }));
  for (let g = 0; g < gateways; g++) {
    const status = statusSchema.parse(statusDoc(`gw-${g}`, { heartbeatIntervalMs: 3_600_000, sources }));
    store.put(`gw-${g}`, status, now, now);
  }
  store.tick(); // hand out the puts now, so the hub has no update to send
  return store;
}

async function serve(hub: EventHub): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => hub.attach(req, res));
  await listen(server, '127.0.0.1', 0);
  hub.start();
  const a = server.address();
  if (!a || typeof a === 'string') throw new Error('not listening');
  return { server, port: a.port };
}

test('a page that never reads is dropped although no update is sent', { timeout: 30_000 }, async () => {
  // Some 12 MiB of snapshot: more than the 4 MiB backlog allowed, beyond what the kernel buffers.
  const store = quietStore(150, 800);
  assert.ok(store.listJson().length > 10 * 2 ** 20);
  const hub = new EventHub(store, { tickMs: 50 });
  const { server, port } = await serve(hub);
  try {
    const attached = new Promise((r) => server.once('request', r)); // after the hub's own listener
    const sock = connect(port, '127.0.0.1');
    sock.pause(); // never reads while the server decides
    sock.write('GET /api/events HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await attached;
    await until(() => hub.size === 0);
    // Now read what got through: the server closed the stream, and never sent an update.
    let received = '';
    sock.setEncoding('utf8');
    sock.on('data', (d) => (received += d));
    sock.resume();
    await new Promise((r) => sock.once('close', r));
    assert.match(received, /^HTTP\/1\.1 200/);
    assert.match(received, /event: snapshot/);
    assert.doesNotMatch(received, /event: update/);
  } finally {
    hub.stop();
    await close(server);
  }
});

async function until(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((r) => setTimeout(r, 20));
}

test('the stream and its "too many pages" answer carry the security headers', async () => {
  const hub = new EventHub(quietStore(1, 1), { maxClients: 1 });
  const { server, port } = await serve(hub);
  try {
    const open = () =>
      new Promise<IncomingMessage>((resolve, reject) =>
        request({ host: '127.0.0.1', port, path: '/api/events' }, resolve).on('error', reject).end(),
      );
    const stream = await open();
    const refused = await open();
    assert.equal(stream.statusCode, 200);
    assert.equal(stream.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(refused.statusCode, 503);
    for (const res of [stream, refused]) {
      assert.equal(res.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
      assert.equal(res.headers['x-frame-options'], 'DENY');
      assert.equal(res.headers['referrer-policy'], 'no-referrer');
      assert.equal(res.headers['cache-control'], 'no-store');
    }
    refused.resume();
    stream.destroy();
  } finally {
    hub.stop();
    await close(server);
  }
});
