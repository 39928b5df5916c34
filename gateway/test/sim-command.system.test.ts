/**
 * `sensorgate sim --config FILE` as a user runs it: a refused config exits 2 with lines naming
 * the keys; a good one prints where its devices are and gateway sources that, as printed, the
 * gateway's own drivers read; SIGTERM ends it with nothing left behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { type Broker, startBroker } from '../../drivers/test/support/mosquitto.js';
import { RecordingSink } from '../../drivers/test/support/recording-sink.js';
import { validateConfig } from '../config/config.js';
import { createDriver } from '../ingest/sources.js';
import { CLI, waitFor } from './support/gateway-process.js';

let dir: string;
let broker: Broker;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sg-simcmd-'));
  broker = await startBroker();
});
after(async () => {
  await broker?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

function configFile(name: string, cfg: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, stringify(cfg));
  return file;
}

function runSim(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'sim', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out, exited };
}

test('a config the simulator refuses: exit 2, one line per problem naming its key', async () => {
  const file = configFile('bad.yaml', {
    timeScale: -1,
    devices: [
      { id: 'p1', transport: 'serial', model: { type: 'machine' }, faults: [{ type: 'disconnect' }], baudrate: 9600 },
      { id: 'door', transport: 'gpio', pin: 17, model: { type: 'switch' } },
    ],
  });
  const { out, exited } = runSim(['--config', file]);
  assert.equal(await exited, 2);
  const lines = out.stderr.trim().split('\n');
  assert.deepEqual(lines, [
    'config: timeScale: expected more than 0, found the number -1',
    'config: devices[0].baudrate: unknown key; did you mean "baudRate"?',
    'config: devices[0].faults[0].type: disconnect does not apply to a serial line device (it can have: garbage, bad_checksum, dropout, stuck, spike, burst, unplug, clock_skew)',
  ]);
  const gpioOnly = configFile('gpio.yaml', {
    devices: [{ id: 'door', transport: 'gpio', pin: 17, model: { type: 'switch' } }],
  });
  const second = runSim(['--config', gpioOnly]);
  assert.equal(await second.exited, 2);
  assert.match(
    second.out.stderr,
    /^config: devices\[0\]\.transport: a gpio device drives the simulated chip inside one process; only `sensorgate demo` \(or a test\) can read it\n$/,
  );
  const missing = runSim(['--config', join(dir, 'absent.yaml')]);
  assert.equal(await missing.exited, 2);
  assert.match(missing.out.stderr, /absent\.yaml: cannot read \(ENOENT\)/);
});

test("devices of every kind: the printed sources, as printed, are read by the gateway's drivers; SIGTERM leaves nothing behind", async () => {
  const devDir = join(dir, 'dev');
  const file = configFile('plant.yaml', {
    seed: 4,
    timeScale: 1440,
    devices: [
      {
        id: 'press-1',
        transport: 'serial',
        intervalMs: 100,
        model: { type: 'machine' },
        faults: [{ type: 'bad_checksum', probability: 0.2 }],
      },
      { id: 'fan-3', transport: 'serial', format: 'jsonl', intervalMs: 100, model: { type: 'machine' } },
      { id: 'meter-1', transport: 'modbus', intervalMs: 200, model: { type: 'machine' } },
      { id: 'pump-1', transport: 'mqtt', intervalMs: 100, model: { type: 'machine' } },
    ],
  });
  const { child, out, exited } = runSim([
    '--config',
    file,
    '--dev-dir',
    devDir,
    '--mqtt-url',
    broker.url,
    '--summary',
    '1',
  ]);
  const drivers: Array<ReturnType<typeof createDriver>> = [];
  try {
    const yaml = await waitFor(
      'the printed sources',
      () => /# gateway sources for these devices:\n([\s\S]*?)\n\n/.exec(out.stdout)?.[1],
      30_000,
    );
    assert.match(
      out.stdout,
      new RegExp(`press-1 +serial line  ${join(devDir, 'press-1')}  \\(115200 8N1, checksums\\)`),
    );
    assert.match(out.stdout, new RegExp(`pump-1 +mqtt  ${broker.url}  topics plant/pump-1/\\+`));
    const cfg = validateConfig({
      gateway: { id: 'sim-cmd' },
      kafka: { brokers: ['127.0.0.1:9'] },
      sources: parse(yaml!).sources,
    });
    assert.deepEqual(
      cfg.sources.map((s) => `${s.id}:${s.driver}`),
      ['press-1:serial', 'fan-3:serial', 'meter-1:modbus', 'pump-1:mqtt'],
    );
    const sinks = cfg.sources.map(() => new RecordingSink());
    for (const [i, s] of cfg.sources.entries()) {
      const d = createDriver(s, 'sim-cmd');
      drivers.push(d);
      await d.start(sinks[i]!);
    }
    await waitFor('readings from every device', () => sinks.every((s) => s.readings.length >= 8), 60_000);
    await waitFor('a checksum error from press-1', () => sinks[0]!.reasons().bad_checksum, 30_000);
    assert.deepEqual(
      new Set(sinks.flatMap((s) => s.readings.map((r) => r.sensor))),
      new Set(['press-1', 'fan-3', 'meter-1', 'pump-1']),
    );
    await waitFor('a summary line', () => /press-1: \d+ sent \(bad_checksum \d+\)/.test(out.stdout), 30_000);
  } finally {
    for (const d of drivers) await d.stop();
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, out.stderr);
  assert.deepEqual(existsSync(devDir) ? readdirSync(devDir) : [], [], 'socat removed every link');
});
