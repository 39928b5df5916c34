/**
 * One gateway per data dir: a second `sensorgate run` on the same config is refused while the
 * first runs, and the lock goes with the first process, even when it is killed (kill -9).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../deploy/net.js';
import { waitFor } from './support/gateway-process.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

test('a second gateway on the same data dir is refused, naming it; the first one killed, the next one starts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sg-lock-'));
  const dataDir = join(dir, 'data');
  const listen = `127.0.0.1:${await freePort()}`;
  const nothing = await freePort(); // Kafka and the MQTT broker: nothing answers, the gateway runs all the same
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      gateway: { id: 'lock-test', dataDir },
      kafka: { brokers: [`127.0.0.1:${nothing}`] },
      status: { listen },
      sources: [{ id: 'plant', driver: 'mqtt', url: `mqtt://127.0.0.1:${nothing}`, topics: ['plant/#'] }],
    }),
  );
  const start = (): ChildProcess => spawn(process.execPath, [CLI, 'run', '--config', config], { stdio: 'ignore' });
  const answers = () =>
    fetch(`http://${listen}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
      () => true,
      () => false,
    );
  const first = start();
  try {
    await waitFor('the first gateway answering', answers, 60_000);
    const second = spawnSync(process.execPath, [CLI, 'run', '--config', config], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(second.status, 1, second.stdout + second.stderr);
    assert.match(second.stdout + second.stderr, /is in use by another sensorgate process/);
    assert.ok((second.stdout + second.stderr).includes(dataDir), 'the message names the data dir');
    assert.ok(await answers(), 'the first gateway runs on');
  } finally {
    first.kill('SIGKILL');
  }
  if (first.exitCode === null && first.signalCode === null) await new Promise((r) => first.once('exit', r));
  const third = start();
  try {
    await waitFor('a gateway after the first was killed', answers, 60_000);
  } finally {
    third.kill('SIGKILL');
  }
});
