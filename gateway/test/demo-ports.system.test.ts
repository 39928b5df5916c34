/**
 * `sensorgate demo` on a machine where its default ports (fleet 8080, gateways 8081 and 8082) are
 * already taken: it runs on free ports and prints the URLs it chose. Bad flags, and ports asked
 * for that are in use, are refused before anything starts (no Kafka, no devices).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { CLI, spawnCli, waitFor } from './support/gateway-process.js';

const DEFAULTS = [8080, 8081, 8082];
const held: Server[] = [];
const cleanups: Array<() => Promise<unknown> | unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** Take the port if it is free; if someone else has it, it is taken all the same. */
async function occupy(port: number): Promise<void> {
  const srv = createServer();
  const ok = await new Promise<boolean>((r) => {
    srv.once('error', () => r(false));
    srv.listen(port, '127.0.0.1', () => r(true));
  });
  if (ok) held.push(srv);
}
cleanups.push(() => Promise.all(held.map((s) => new Promise((r) => s.close(r)))));

test('bad flags and ports in use are refused before anything starts', async () => {
  for (const port of DEFAULTS) await occupy(port);
  const bad = spawnSync(
    process.execPath,
    [CLI, 'demo', '--status-port', 'abc', '--fleet-port', '99999', '--mqtt-url', 'http://x'],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(bad.status, 2, bad.stderr);
  assert.deepEqual(bad.stderr.trim().split('\n'), [
    'demo: --status-port: expected a port number (1-65535), found "abc"',
    'demo: --fleet-port: expected a port number (1-65535), found "99999"',
    'demo: --mqtt-url: expected an mqtt://, mqtts://, ws:// or wss:// URL, found "http://x"',
  ]);
  assert.equal(bad.stdout, '', 'nothing started');
  const dir = mkdtempSync(join(tmpdir(), 'sg-demo-busy-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const busy = spawnSync(process.execPath, [CLI, 'demo', '--data-dir', dir, '--fleet-port', '8080'], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, KAFKA_BROKERS: '127.0.0.1:1' },
  });
  assert.equal(busy.status, 2, busy.stderr);
  assert.match(
    busy.stderr,
    /^demo: --fleet-port: port 8080 is in use on 127\.0\.0\.1; choose another, or leave the flag out to get a free one\n$/,
  );
  assert.doesNotMatch(busy.stdout, /starting|running/, 'nothing started');
});

test('with 8080-8082 taken the demo runs on free ports and prints them', async () => {
  for (const port of DEFAULTS) await occupy(port);
  const kafka: KafkaBroker = await startKafka({ version: 'latest' });
  cleanups.push(() => kafka.destroy());
  const dir = mkdtempSync(join(tmpdir(), 'sg-demo-ports-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const {
    child,
    out: output,
    exited,
    ctrlC,
  } = spawnCli(['demo', '--data-dir', dir], {
    ...process.env,
    KAFKA_BROKERS: kafka.brokers.join(','),
  });
  try {
    await waitFor(
      'the demo running',
      () => output.text.includes('Ctrl-C stops everything') || child.exitCode !== null,
      180_000,
    );
    assert.match(output.text, /sensorgate demo is running/, output.text);
    const fleetPort = Number(/fleet page +http:\/\/127\.0\.0\.1:(\d+)\//.exec(output.text)![1]);
    const statusPorts = [...output.text.matchAll(/gateway demo-line\d +http:\/\/127\.0\.0\.1:(\d+)\//g)].map((m) =>
      Number(m[1]),
    );
    assert.equal(statusPorts.length, 2, output.text);
    for (const p of [fleetPort, ...statusPorts])
      assert.ok(!DEFAULTS.includes(p), `printed port ${p} is one of the taken defaults`);
    assert.equal(new Set([fleetPort, ...statusPorts]).size, 3, 'three different ports');
    // The URLs printed are the ones that answer.
    for (const p of statusPorts) {
      const s = (await (await fetch(`http://127.0.0.1:${p}/api/status`)).json()) as { gateway: string };
      assert.match(s.gateway, /^demo-line\d$/);
    }
    await waitFor(
      'the fleet page answering',
      async () => (await fetch(`http://127.0.0.1:${fleetPort}/api/fleet`)).ok,
      60_000,
    );
  } finally {
    ctrlC();
  }
  assert.equal(await exited, 0, output.text.slice(-3000));
  assert.doesNotMatch(output.text, /EADDRINUSE|\n\s+at /, 'no raw bind error, no stack trace');
});
