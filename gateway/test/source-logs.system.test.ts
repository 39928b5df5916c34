/**
 * Logs for people and journald, from a real `sensorgate run`: an MQTT broker killed for 20 s and
 * a serial adapter unplugged (the pty removed) give a few warn lines naming the source and one
 * line when it is back; a device missing from the start is said once, not at every retry. Levels
 * are words, no line carries a stack trace. The buffer file the daemon creates is private (0600).
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { freePort } from '../../deploy/net.js';
import { startBroker } from '../../drivers/test/support/mosquitto.js';
import { ptyPair } from '../../drivers/test/support/pty-pair.js';
import { gatewayProcess, waitFor } from './support/gateway-process.js';

interface LogLine {
  level: string;
  msg: string;
  source?: string;
  [k: string]: unknown;
}

const OUTAGE_MS = 20_000;
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

test('a broker outage and an unplugged serial adapter: a few warn lines naming the source, one line when back', async () => {
  const mqtt = await startBroker();
  cleanups.push(() => mqtt.destroy());
  const pty = await ptyPair();
  cleanups.push(() => pty.destroy());
  // No Kafka here: the uplink's lines name no source, and the test needs no broker lock.
  const deadKafka = `127.0.0.1:${await freePort()}`;
  const gw = await gatewayProcess({
    gateway: { id: 'gw-logs' },
    kafka: { brokers: [deadKafka] },
    sources: [
      { id: 'plant-mqtt', driver: 'mqtt', url: mqtt.url, topics: ['plant/#'] },
      { id: 'press-line', driver: 'serial', path: pty.a },
      { id: 'missing-adapter', driver: 'serial', path: '/dev/ttyUSB-sensorgate-test-absent' },
    ],
  });
  cleanups.push(() => gw.dispose());
  await gw.start();
  const logFile = join(gw.dir, 'logs', 'run-1.log');
  const lines = (): LogLine[] =>
    readFileSync(logFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LogLine);
  const stateOf = async (id: string) =>
    ((await gw.status()).sources as Array<{ id: string; state: string }>).find((s) => s.id === id)?.state;
  await waitFor(
    'both sources up',
    async () => (await stateOf('plant-mqtt')) === 'up' && (await stateOf('press-line')) === 'up',
    30_000,
  );

  const before = lines().length;
  await Promise.all([mqtt.stop(), pty.stop()]);
  await waitFor(
    'both sources down',
    async () => (await stateOf('plant-mqtt')) === 'down' && (await stateOf('press-line')) === 'down',
    15_000,
  );
  await new Promise((r) => setTimeout(r, OUTAGE_MS));
  const during = lines().slice(before);
  const restarted = lines().length;
  await Promise.all([mqtt.start(), pty.start()]);
  await waitFor(
    'both sources back',
    async () => (await stateOf('plant-mqtt')) === 'up' && (await stateOf('press-line')) === 'up',
    30_000,
  );
  await new Promise((r) => setTimeout(r, 2000)); // anything said late would show now
  const afterwards = lines().slice(restarted);

  const names = (l: LogLine, id: string) => l.source === id || l.msg.includes(id);
  const loud = (l: LogLine) => ['warn', 'error', 'fatal'].includes(l.level);
  for (const id of ['plant-mqtt', 'press-line']) {
    const down = during.filter((l) => names(l, id) && loud(l));
    assert.ok(
      down.length >= 1 && down.length <= 5,
      `${id}: ${down.length} warn+ lines during the outage:\n${down.map((l) => JSON.stringify(l)).join('\n')}`,
    );
    assert.ok(
      down.some((l) => /down/.test(l.msg)),
      `${id}: the line says it is down`,
    );
    const back = afterwards.filter((l) => names(l, id));
    assert.equal(back.length, 1, `${id}: one line when back:\n${back.map((l) => JSON.stringify(l)).join('\n')}`);
    assert.equal(back[0]!.level, 'info');
    assert.match(back[0]!.msg, /back/);
  }
  // Missing from the start and retried all along: said once.
  const missing = lines().filter((l) => names(l, 'missing-adapter'));
  assert.equal(missing.length, 1, missing.map((l) => JSON.stringify(l)).join('\n'));
  assert.equal(missing[0]!.level, 'warn');
  assert.match(missing[0]!.msg, /ttyUSB-sensorgate-test-absent/);

  for (const l of lines()) {
    assert.equal(typeof l.level, 'string', 'level names as text');
    assert.doesNotMatch(JSON.stringify(l), /\\n\s+at /, `no stack trace: ${JSON.stringify(l).slice(0, 300)}`);
  }
  assert.equal(statSync(join(gw.dir, 'data', 'buffer.sqlite')).mode & 0o777, 0o600, 'the buffer file is private');
});
