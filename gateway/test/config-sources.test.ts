/** The source options of every driver: docs examples are valid, wrong options are named lines. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { RecordingSink, until } from '../../drivers/test/support/recording-sink.js';
import { SimGpioChip } from '../../firmware-sim/gpio-chip.js';
import { ConfigError, loadConfig, validateConfig } from '../config/config.js';
import { createDriver } from '../ingest/sources.js';
import { withDeviceFiles } from './support/device-files.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const DOCS = fileURLToPath(new URL('../../../docs/drivers.md', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sg-config-sources-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const base = { gateway: { id: 'line3-pi07' }, kafka: { brokers: ['127.0.0.1:9092'] } };
const withSource = (source: Record<string, unknown>) => ({ ...base, sources: [source] });

function problems(source: Record<string, unknown>): string[] {
  try {
    validateConfig(withSource(source));
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

const mqtt = { id: 'm', driver: 'mqtt', url: 'mqtts://broker:8883', topics: ['a/#'] };
const serial = { id: 's', driver: 'serial', path: '/dev/ttyUSB0' };
const modbus = {
  id: 'b',
  driver: 'modbus',
  path: '/dev/ttyUSB0',
  registers: [{ sensor: 'meter-1', metric: 'v', address: 0 }],
};
const gpio = { id: 'g', driver: 'gpio', pin: 17 };

test('every complete example in docs/drivers.md is a valid config, and builds its drivers', () => {
  const examples = [...readFileSync(DOCS, 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m, i) =>
    parseYaml(withDeviceFiles(m[1]!, join(dir, `example-${i}`))),
  );
  assert.equal(examples.length, 6, 'one example per driver, and for Sparkplug B and Modbus TCP');
  const drivers = new Set<string>();
  for (const ex of examples) {
    const cfg = validateConfig(ex);
    for (const src of cfg.sources) {
      drivers.add(src.driver);
      assert.equal(createDriver(src, cfg.gateway.id).driver, src.driver);
    }
  }
  assert.deepEqual([...drivers].sort(), ['gpio', 'modbus', 'mqtt', 'serial']);
});

test('defaults of the new options', () => {
  const cfg = validateConfig({ ...base, sources: [serial, modbus, gpio, mqtt] });
  const [s, b, g, m] = cfg.sources;
  assert.ok(m?.driver === 'mqtt');
  assert.equal(m.qos, 2, 'each MQTT message taken in once unless told otherwise');
  assert.ok(s?.driver === 'serial');
  assert.deepEqual(
    [s.baudRate, s.dataBits, s.parity, s.stopBits, s.format, s.requireChecksum],
    [9600, 8, 'none', 1, 'line', false],
  );
  assert.ok(b?.driver === 'modbus');
  assert.deepEqual([b.unitId, b.pollIntervalMs, b.timeoutMs], [1, 1000, 1000]);
  assert.deepEqual(b.registers[0], {
    sensor: 'meter-1',
    metric: 'v',
    address: 0,
    table: 'holding',
    type: 'uint16',
    wordOrder: 'big',
    scale: 1,
    offset: 0,
  });
  assert.ok(g?.driver === 'gpio');
  assert.deepEqual([g.mode, g.chip, g.activeLow], ['state', 'onoff', false]);
});

test('wrong values of the new options are lines naming the key', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...mqtt, maxRatePerS: 0 }, /^sources\[0\]\.maxRatePerS: /],
    [{ ...mqtt, qos: 0 }, /^sources\[0\]\.qos: must be 1 or 2, found the number 0$/],
    [{ ...mqtt, maxBurst: 5 }, /^sources\[0\]\.maxBurst: only applies with maxRatePerS$/],
    [
      { ...mqtt, url: 'mqtt://broker:1883', ca: '/ca.pem' },
      /^sources\[0\]\.ca: only applies with an mqtts:\/\/ or wss:\/\/ url$/,
    ],
    [{ ...mqtt, cert: '/c.pem' }, /^sources\[0\]\.key: required with cert/],
    [{ ...mqtt, key: '/k.pem' }, /^sources\[0\]\.cert: required with key$/],
    [{ ...mqtt, password: 'x' }, /^sources\[0\]\.username: required with password$/],
    [{ ...mqtt, topicPattern: ['a/{sensor}/{metric}', 'b/#/x'] }, /^sources\[0\]\.topicPattern/],
    [{ ...serial, parity: 'mark' }, /^sources\[0\]\.parity: /],
    [{ ...serial, dataBits: 9 }, /^sources\[0\]\.dataBits: /],
    [{ ...serial, stopBits: 1.5 }, /^sources\[0\]\.stopBits: /],
    [{ ...serial, format: 'csv' }, /^sources\[0\]\.format: /],
    [{ ...serial, sensor: 'x' }, /^sources\[0\]\.sensor: only applies with format: jsonl/],
    [
      { ...serial, format: 'jsonl', requireChecksum: true },
      /^sources\[0\]\.requireChecksum: only applies with format: line$/,
    ],
    [{ ...serial, format: 'jsonl', metric: 'bad name' }, /^sources\[0\]\.metric: must match/],
    [{ ...modbus, unitId: 248 }, /^sources\[0\]\.unitId: /],
    [{ ...modbus, timeoutMs: 5 }, /^sources\[0\]\.timeoutMs: /],
    [{ ...modbus, registers: [] }, /^sources\[0\]\.registers: /],
    [
      { ...modbus, registers: [{ sensor: 'a', metric: 'b', address: 0, type: 'float64' }] },
      /^sources\[0\]\.registers\[0\]\.type: /,
    ],
    [
      { ...modbus, registers: [{ sensor: 'a', metric: 'b', address: 0, wordOrder: 'middle' }] },
      /^sources\[0\]\.registers\[0\]\.wordOrder: /,
    ],
    [
      { ...modbus, registers: [{ sensor: 'a', metric: 'b', address: 65535, type: 'int32' }] },
      /^sources\[0\]\.registers\[0\]\.address: int32 spans two registers: at most 65534$/,
    ],
    [
      { ...modbus, registers: [{ sensor: 'a', metric: 'b', address: 70000 }] },
      /^sources\[0\]\.registers\[0\]\.address: /,
    ],
    [
      { ...modbus, registers: [{ sensor: 'a', metric: 'b', address: 0, table: 'coil' }] },
      /^sources\[0\]\.registers\[0\]\.table: /,
    ],
    [
      { ...modbus, registers: [{ sensor: 'a', metric: 'b', address: 0, scael: 2 }] },
      /^sources\[0\]\.registers\[0\]\.scael: unknown key/,
    ],
    [
      {
        ...modbus,
        registers: [
          { sensor: 'a', metric: 'b', address: 0 },
          { sensor: 'a', metric: 'b', address: 1 },
        ],
      },
      /^sources\[0\]\.registers\[1\]\.metric: duplicate sensor\/metric "a\/b"$/,
    ],
    [
      { ...modbus, host: '10.0.0.20' },
      /^sources\[0\]\.host: either path \(Modbus RTU\) or host \(Modbus TCP\), not both$/,
    ],
    [
      { ...modbus, path: undefined },
      /^sources\[0\]\.path: required: path \(Modbus RTU on a serial line\) or host \(Modbus TCP\)$/,
    ],
    [{ ...modbus, port: 502 }, /^sources\[0\]\.port: only applies with host \(Modbus TCP\)$/],
    [{ ...modbus, path: undefined, host: '10.0.0.20', port: 70000 }, /^sources\[0\]\.port: /],
    [{ ...mqtt, payload: 'protobuf' }, /^sources\[0\]\.payload: /],
    [
      { ...mqtt, payload: 'sparkplug-b', topicPattern: 'a/{sensor}/{metric}' },
      /^sources\[0\]\.topicPattern: only applies with payload: json/,
    ],
    [{ ...mqtt, rebirthRequests: false }, /^sources\[0\]\.rebirthRequests: only applies with payload: sparkplug-b$/],
    [{ ...gpio, mode: 'pwm' }, /^sources\[0\]\.mode: /],
    [{ ...gpio, chip: 'libgpiod' }, /^sources\[0\]\.chip: /],
    [{ ...gpio, windowMs: 1000 }, /^sources\[0\]\.windowMs: only applies with mode: pulses$/],
    [{ ...gpio, mode: 'edges', pulsesPerUnit: 450 }, /^sources\[0\]\.pulsesPerUnit: only applies with mode: pulses$/],
    [{ ...gpio, mode: 'pulses', ratePer: 'day' }, /^sources\[0\]\.ratePer: /],
    [{ ...gpio, mode: 'pulses', edge: 'both' }, /^sources\[0\]\.edge: a pulse is counted on one edge/],
    [
      { ...gpio, mode: 'edges', stateIntervalMs: 1000 },
      /^sources\[0\]\.stateIntervalMs: only applies with mode: state$/,
    ],
    [{ ...gpio, edge: 'rising' }, /^sources\[0\]\.edge: only applies with mode: edges or pulses$/],
    // The simulated chip is handed to the gateway by the demo and tests, never configured.
    [{ ...gpio, chip: 'sim' }, /^sources\[0\]\.chip: expected "onoff", found the string "sim"$/],
    [{ ...gpio, debounceMs: -1 }, /^sources\[0\]\.debounceMs: /],
  ];
  for (const [source, expected] of cases) {
    const p = problems(source);
    assert.ok(
      p.some((l) => expected.test(l)),
      `${JSON.stringify(source)}\nexpected ${expected}, got:\n${p.join('\n')}`,
    );
  }
});

test('SENSORGATE_ variables reach the new options', () => {
  const file = join(dir, 'env.yaml');
  writeFileSync(file, JSON.stringify({ ...base, sources: [serial, modbus, mqtt] }));
  const cfg = loadConfig(file, {
    SENSORGATE_SOURCES_0_BAUD_RATE: '115200',
    SENSORGATE_SOURCES_0_DATA_BITS: '7',
    SENSORGATE_SOURCES_1_POLL_INTERVAL_MS: '250',
    SENSORGATE_SOURCES_2_QOS: '1',
  });
  const [s, b, m] = cfg.sources;
  assert.ok(m?.driver === 'mqtt' && m.qos === 1);
  assert.ok(s?.driver === 'serial' && s.baudRate === 115200 && s.dataBits === 7);
  assert.ok(b?.driver === 'modbus' && b.pollIntervalMs === 250);
});

test('sensorgate check exits 2 with one line per problem in driver options', () => {
  const file = join(dir, 'bad.json');
  writeFileSync(
    file,
    JSON.stringify({
      ...base,
      sources: [
        { ...modbus, baudRate: -5, registers: [{ sensor: 'meter-1', metric: 'v', address: 0, type: 'double' }] },
        { ...gpio, mode: 'pulses', stateIntervalMs: 500 },
      ],
    }),
  );
  const r = spawnSync(process.execPath, [CLI, 'check', '--config', file], { encoding: 'utf8' });
  assert.equal(r.status, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.ok(
    lines.some((l) => l.startsWith('config: sources[0].baudRate: ')),
    r.stderr,
  );
  assert.ok(
    lines.some((l) => l.startsWith('config: sources[0].registers[0].type: ')),
    r.stderr,
  );
  assert.ok(lines.includes('config: sources[1].stateIntervalMs: only applies with mode: state'), r.stderr);
});

test("GPIO sources read the chip the gateway is handed (the simulated one of the demo and tests), else the kernel's", async () => {
  const cfg = validateConfig(withSource({ ...gpio, mode: 'state', debounceMs: 0 }));
  const chip = new SimGpioChip();
  chip.set(17, 1);
  const simulated = createDriver(cfg.sources[0]!, cfg.gateway.id, { openGpioChip: async () => chip });
  const sink = new RecordingSink();
  await simulated.start(sink);
  try {
    await until('the level of the simulated pin', () => sink.readings.some((r) => r.value === 1));
  } finally {
    await simulated.stop();
    chip.close();
  }

  // Not handed one, it opens the kernel's sysfs GPIO through onoff, which test machines lack.
  const kernel = createDriver(cfg.sources[0]!, cfg.gateway.id);
  const states: string[] = [];
  await assert.rejects(
    kernel.start({
      submit: async () => undefined,
      held: () => [],
      state: (s) => {
        states.push(s);
      },
    }),
    /source "g": GPIO is not available on this machine: \/sys\/class\/gpio does not exist/,
  );
  assert.equal(states.at(-1), 'down');
});
