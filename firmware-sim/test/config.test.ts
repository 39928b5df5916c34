/**
 * The simulator's config: the samples are valid, and every mistake is a line naming its key, as
 * `sensorgate sim` reports it (the command line validates with the gateway's problem lines).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { ConfigError, validateWith } from '../../gateway/config/config.js';
import { parseSimConfig, simConfigSchema } from '../config.js';
import { demoPlant } from '../demo-plant.js';

/** firmware-sim/samples in the source tree (tests run from dist/firmware-sim/test). */
const SAMPLES = fileURLToPath(new URL('../../../firmware-sim/samples/', import.meta.url));

function problems(raw: unknown): string[] {
  try {
    validateWith(simConfigSchema, raw);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return [...err.problems];
  }
  assert.fail('the config was accepted');
}

const serial = (over: Record<string, unknown> = {}) => ({
  id: 'p1',
  transport: 'serial',
  model: { type: 'machine' },
  ...over,
});

test('every sample config and the demo plant are valid, with durations in milliseconds', () => {
  const files = readdirSync(SAMPLES).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 3, `samples: ${files}`);
  for (const f of files) {
    const cfg = parseSimConfig(parse(readFileSync(SAMPLES + f, 'utf8')));
    assert.ok(cfg.devices.length > 0, f);
  }
  const plant = demoPlant({ mqttUrl: 'mqtt://127.0.0.1:1883' });
  assert.deepEqual([...new Set(plant.devices.map((d) => d.transport))].sort(), [
    'gpio',
    'modbus',
    'modbus-tcp',
    'mqtt',
    'serial',
    'sparkplug',
  ]);
  const press = plant.devices.find((d) => d.id === 'press-1')!;
  assert.equal(press.model.type === 'machine' && press.model.timeToFailure, 10 * 86_400_000);
  assert.deepEqual(
    press.faults.find((f) => f.type === 'unplug'),
    { type: 'unplug', at: 60_000, every: 150_000, duration: 3000 },
  );
});

test('defaults are filled in', () => {
  const cfg = parseSimConfig({ devices: [serial()] });
  assert.equal(cfg.seed, 1);
  assert.equal(cfg.timeScale, 1);
  const d = cfg.devices[0]!;
  assert.ok(
    d.transport === 'serial' &&
      d.format === 'line' &&
      d.checksum &&
      d.timestamps &&
      d.baudRate === 115200 &&
      d.intervalMs === 1000,
  );
  assert.deepEqual(d.faults, []);
});

test('mistakes are reported by key path, all at once', () => {
  assert.deepEqual(
    problems({ devices: [serial({ colour: 'red', model: { type: 'machine', timeToFailure: 'soon' } })], seeed: 3 }),
    [
      'devices[0].model.timeToFailure: must be a duration: milliseconds, or a number with ms, s, m, h or d (e.g. 30s, 10d), found the string "soon"',
      'devices[0].colour: unknown key; known keys here: id, sensor, gateway, intervalMs, timeScale, model, faults, transport, format, checksum, timestamps, baudRate',
      'seeed: unknown key; did you mean "seed"?',
    ],
  );
  assert.deepEqual(problems({ devices: [] }), ['devices: at least one device is required, found 0 items']);
  assert.deepEqual(problems({ devices: [{ id: 'x', model: { type: 'machine' } }] }), [
    'devices[0].transport: required (one of "serial", "modbus", "modbus-tcp", "mqtt", "sparkplug", "gpio")',
  ]);
  assert.deepEqual(problems({ devices: [serial({ model: { type: 'turbine' } })] }), [
    'devices[0].model.type: expected one of "machine", "pump", "switch", found the string "turbine"',
  ]);
  assert.deepEqual(problems({ devices: [serial({ model: undefined })] }), ['devices[0].model: required (a mapping)']);
});

test('a fault a device cannot have, or options that do not fit, are errors naming the key', () => {
  assert.deepEqual(problems({ devices: [serial({ faults: [{ type: 'bad_crc', probability: 0.1 }] })] }), [
    'devices[0].faults[0].type: bad_crc does not apply to a serial line device (it can have: garbage, bad_checksum, dropout, stuck, spike, burst, unplug, clock_skew)',
  ]);
  assert.deepEqual(
    problems({ devices: [serial({ checksum: false, faults: [{ type: 'bad_checksum' }] })] })[0],
    'devices[0].faults[0].type: bad_checksum does not apply to a serial line device without checksums (it can have: garbage, dropout, stuck, spike, burst, unplug, clock_skew)',
  );
  assert.deepEqual(
    problems({
      devices: [
        serial({
          faults: [
            { type: 'garbage', probability: 0.1, at: '1s' },
            { type: 'unplug', duration: '5ms' },
            { type: 'spike', duration: '1s' },
          ],
        }),
      ],
    }),
    [
      'devices[0].faults[0].probability: either probability, or at/every: not both',
      'devices[0].faults[2].duration: unknown key; known keys here: type, probability, at, every, factor',
      "devices[0].faults[1].duration: shorter than the device's intervalMs (1000 ms): it would never be seen",
    ],
  );
  assert.deepEqual(problems({ devices: [{ id: 'm', transport: 'mqtt', model: { type: 'pump' } }] }), [
    'devices[0].url: required: no top-level mqttUrl to default to',
  ]);
  assert.deepEqual(
    problems({
      devices: [
        {
          id: 'm',
          transport: 'modbus',
          model: { type: 'pump' },
          registers: [
            { metric: 'flow', address: 0 },
            { metric: 'pressure', address: 1 },
          ],
        },
      ],
    }),
    [
      'devices[0].registers[1].metric: the pump model has no metric "pressure" (it has flow, running)',
      'devices[0].registers[1].address: overlaps the register of flow',
    ],
  );
  assert.deepEqual(
    problems({
      mqttUrl: 'mqtt://127.0.0.1:1883',
      devices: [
        { id: 's1', transport: 'sparkplug', node: 'edge-1', model: { type: 'pump' }, faults: [{ type: 'malformed' }] },
        { id: 's2', transport: 'sparkplug', node: 'edge-1', model: { type: 'pump' } },
        {
          id: 't1',
          transport: 'modbus-tcp',
          model: { type: 'pump' },
          faults: [{ type: 'unplug', duration: '5s' }],
          registers: [
            { metric: 'flow', address: 0 },
            { metric: 'running', address: 1 },
          ],
        },
      ],
    }),
    [
      'devices[0].faults[0].type: malformed does not apply to a sparkplug device (it can have: dropout, stuck, spike, burst, disconnect, clock_skew)',
      'devices[2].faults[0].type: unplug does not apply to a modbus-tcp device (it can have: bad_crc, timeout, busy, dropout, stuck, spike, disconnect)',
      'devices[2].registers[1].address: overlaps the register of flow',
      'devices[1].node: edge node plant/edge-1 is already simulated by s1',
    ],
  );
  assert.deepEqual(
    problems({
      devices: [
        { id: 'g', transport: 'gpio', pin: 4, model: { type: 'pump' }, pulsesPerUnit: 450, bounce: true },
        { id: 'h', transport: 'gpio', pin: 4, model: { type: 'switch' } },
        serial({ id: 'g' }),
      ],
    }),
    [
      'devices[0].bounce: only applies to a level pin (without pulsesPerUnit)',
      'devices[1].pin: pin 4 is already used by g',
      'devices[2].id: duplicate device id "g"',
    ],
  );
});

test('an id that is another serial or Modbus RTU id plus ".sim" is refused: their pseudo-terminals would share a path', () => {
  assert.deepEqual(problems({ devices: [serial({ id: 'press.sim' }), serial({ id: 'press' })] }), [
    'devices[0].id: pseudo-terminal path press.sim is already the simulated end of press; choose another id',
  ]);
  assert.deepEqual(
    problems({ devices: [serial({ id: 'press' }), { id: 'press.sim', transport: 'modbus', model: { type: 'pump' } }] }),
    ['devices[1].id: pseudo-terminal path press.sim is already the simulated end of press; choose another id'],
  );
  // Devices without a pseudo-terminal have no path to share.
  assert.deepEqual(
    parseSimConfig({
      devices: [serial({ id: 'press' }), { id: 'press.sim', transport: 'gpio', pin: 4, model: { type: 'switch' } }],
    }).devices.length,
    2,
  );
});
