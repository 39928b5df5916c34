/** Status records are read defensively; `sensorgate fleet` refuses unsafe or invalid options. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MAX_STATUS_BYTES, parseStatusRecord } from '../offsite/fleet/status-record.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

const valid = {
  gateway: 'gw-1',
  version: '0.1.0',
  ts: 1,
  uptimeS: 2,
  buffer: { depth: 0, bytes: 0, oldestTs: null },
  uplink: { connected: true, lastAckTs: null, lastError: null },
  sources: [{ id: 's', driver: 'mqtt', state: 'up', lastReadingTs: null, readings: 0, rejected: 0 }],
};
const rec = (key: string | null, value: unknown) =>
  parseStatusRecord(
    key === null ? null : Buffer.from(key),
    value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
  );

test('a valid status is kept without the fields unknown to this version, at every level', () => {
  const r = rec('gw-1', {
    ...valid,
    fromTheFuture: { x: 1 },
    buffer: { ...valid.buffer, extra: [{}, {}] },
    sources: [{ ...valid.sources[0], extra: 'y' }],
  });
  assert.equal(r.kind, 'status');
  assert.deepEqual(r.kind === 'status' && r.status, valid);
  assert.equal(r.kind === 'status' && r.bytes, JSON.stringify(valid).length);
});

test('anything else is refused with a reason', () => {
  const reason = (key: string | null, value: unknown) => {
    const r = rec(key, value);
    return r.kind === 'rejected' ? r.reason : r.kind;
  };
  assert.equal(reason(null, valid), 'no_key');
  assert.equal(reason('gw-1', 'not json {'), 'invalid_json');
  assert.equal(reason('gw-1', { ...valid, buffer: { depth: 'many' } }), 'invalid_status');
  assert.equal(reason('gw-1', { ...valid, sources: 'all of them' }), 'invalid_status');
  assert.equal(reason('gw-1', { gateway: 'gw-1' }), 'invalid_status');
  assert.equal(reason('gw-2', valid), 'key_mismatch');
  assert.equal(reason('gw-1', 'x'.repeat(MAX_STATUS_BYTES + 1)), 'too_large');
  assert.equal(reason('gw-1', null), 'tombstone');
  const r = rec('gw-1', { ...valid, buffer: { depth: 'many' } });
  assert.match(r.kind === 'rejected' ? r.detail : '', /^gw-1: buffer\.depth: /);
});

test('sensorgate fleet: beyond loopback without a token, a short token, bad brokers: exit 2 naming the option', () => {
  const { SENSORGATE_FLEET_TOKEN: _unset, ...env } = process.env;
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'fleet', ...args], { encoding: 'utf8', env });
  const exposed = run('--brokers', '127.0.0.1:9', '--host', '0.0.0.0');
  assert.equal(exposed.status, 2, exposed.stderr);
  assert.match(exposed.stderr, /--auth-token: listening on 0\.0\.0\.0 \(beyond loopback\) requires an auth token/);
  const short = run('--brokers', '127.0.0.1:9', '--auth-token', 'abc');
  assert.equal(short.status, 2);
  assert.match(short.stderr, /--auth-token: the auth token must be at least 16 characters/);
  const brokers = run('--brokers', 'nohostport');
  assert.equal(brokers.status, 2);
  assert.match(brokers.stderr, /--brokers: must be HOST:PORT/);
});
