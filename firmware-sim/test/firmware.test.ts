/**
 * A device's output, tick by tick, before any wire: reproducible from a seed and a clock, with
 * each fault shaped as the gateway's decoders (the drivers' own) will judge it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodePayload } from '../../drivers/mqtt/payload.js';
import { decodeJsonLine } from '../../drivers/serial/jsonl-codec.js';
import { decodeLine } from '../../drivers/serial/line-codec.js';
import { parseSimConfig } from '../config.js';
import type { Tick } from '../firmware.js';
import { firmwareFor } from '../simulator.js';
import { encodeMqttTick, encodeSerialTick } from '../wire.js';

const T0 = 1_800_000_000_000;

function device(spec: Record<string, unknown>, seed: number | string = 1) {
  const cfg = parseSimConfig({
    seed,
    timeScale: 1440,
    mqttUrl: 'mqtt://127.0.0.1:1',
    devices: [{ id: 'dev-1', transport: 'serial', intervalMs: 100, model: { type: 'machine' }, ...spec }],
  });
  const d = cfg.devices[0]!;
  const { firmware, wire } = firmwareFor(d, cfg);
  const ticks = (n: number): Tick[] => Array.from({ length: n }, (_, k) => firmware.tick(T0 + k * d.intervalMs));
  return { d, firmware, wire, ticks };
}

/** Serial bytes of n ticks of a device, with a pinned clock. */
function serialOutput(spec: Record<string, unknown>, seed: number | string, n: number): Buffer {
  const { d, firmware, wire, ticks } = device(spec, seed);
  if (d.transport !== 'serial') throw new Error('serial only');
  return Buffer.concat(
    ticks(n).map(
      (t) =>
        encodeSerialTick(
          t,
          { sensor: d.id, format: d.format, checksum: d.checksum, timestamps: d.timestamps, metrics: firmware.metrics },
          wire,
        ).bytes,
    ),
  );
}

const lines = (b: Buffer) =>
  b
    .toString('latin1')
    .split('\n')
    .filter(Boolean)
    .map((l) => Buffer.from(l, 'latin1'));

describe('reproducible device output', () => {
  const faulty = {
    faults: [
      { type: 'garbage', probability: 0.05 },
      { type: 'bad_checksum', probability: 0.05 },
      { type: 'spike', probability: 0.05 },
      { type: 'stuck', at: '2s', duration: '1s' },
    ],
  };

  test('same seed and clock: the same bytes, faults included; another seed: other bytes', () => {
    const a = serialOutput(faulty, 11, 300);
    assert.deepEqual(serialOutput(faulty, 11, 300), a);
    assert.notDeepEqual(serialOutput(faulty, 12, 300), a);
  });

  test('the same seed gives each device its own values, and another device does not change them', () => {
    const one = parseSimConfig({ seed: 5, devices: [{ id: 'a', transport: 'serial', model: { type: 'machine' } }] });
    const two = parseSimConfig({
      seed: 5,
      devices: [
        { id: 'b', transport: 'serial', model: { type: 'machine' } },
        { id: 'a', transport: 'serial', model: { type: 'machine' } },
      ],
    });
    const values = (cfg: typeof one, i: number) => {
      const { firmware } = firmwareFor(cfg.devices[i]!, cfg);
      return Array.from({ length: 50 }, (_, k) => firmware.tick(T0 + k).samples[0]!.values);
    };
    assert.deepEqual(values(two, 1), values(one, 0));
    assert.notDeepEqual(values(two, 0), values(one, 0));
  });
});

describe('faults as the gateway will see them', () => {
  test('line frames: intact ones decode to the model values; garbage and bad checksums are refused with those reasons', () => {
    const { d, firmware, wire, ticks } = device({
      format: 'line',
      checksum: true,
      faults: [
        { type: 'garbage', probability: 0.1 },
        { type: 'bad_checksum', probability: 0.1 },
      ],
    });
    const reasons: Record<string, number> = {};
    const injected: Record<string, number> = {};
    let readings = 0;
    let expected = 0;
    for (const t of ticks(500)) {
      const out = encodeSerialTick(
        t,
        { sensor: d.id, format: 'line', checksum: true, timestamps: true, metrics: firmware.metrics },
        wire,
      );
      for (const [f, n] of Object.entries(out.corrupted)) injected[f] = (injected[f] ?? 0) + n;
      expected += out.readings;
      for (const line of lines(out.bytes)) {
        const r = decodeLine(line, { requireChecksum: true });
        if (!r.ok) {
          reasons[r.rejection.reason] = (reasons[r.rejection.reason] ?? 0) + 1;
          continue;
        }
        readings += r.readings.length;
        assert.deepEqual(
          r.readings.map((x) => x.value),
          firmware.metrics.map((m) => t.samples[0]!.values[m.name]),
        );
        assert.ok(r.readings.every((x) => x.ts === t.samples[0]!.ts && x.sensor === 'dev-1'));
      }
    }
    assert.ok(injected.garbage! > 20 && injected.bad_checksum! > 20, JSON.stringify(injected));
    assert.deepEqual(reasons, injected);
    assert.equal(readings, expected);
  });

  test('JSON lines and MQTT payloads: truncated objects are invalid_json, noise is garbage, units and times come along', () => {
    const { d, firmware, wire, ticks } = device({
      format: 'jsonl',
      faults: [
        { type: 'garbage', probability: 0.1 },
        { type: 'malformed', probability: 0.1 },
      ],
    });
    const serialReasons: Record<string, number> = {};
    const injected: Record<string, number> = {};
    for (const t of ticks(300)) {
      const out = encodeSerialTick(
        t,
        { sensor: d.id, format: 'jsonl', checksum: false, timestamps: true, metrics: firmware.metrics },
        wire,
      );
      for (const [f, n] of Object.entries(out.corrupted)) injected[f] = (injected[f] ?? 0) + n;
      for (const line of lines(out.bytes)) {
        const r = decodeJsonLine(line, {});
        if (!r.ok) serialReasons[r.rejection.reason] = (serialReasons[r.rejection.reason] ?? 0) + 1;
        else assert.equal(r.readings[0]!.unit, firmware.metrics.find((m) => m.name === r.readings[0]!.metric)!.unit);
      }
    }
    assert.deepEqual(serialReasons, { garbage: injected.garbage, invalid_json: injected.malformed });

    const mqttDevice = device({ transport: 'mqtt', faults: [{ type: 'malformed', probability: 0.2 }] });
    let refused = 0;
    let malformed = 0;
    for (const t of mqttDevice.ticks(100)) {
      const out = encodeMqttTick(
        t,
        { sensor: 'dev-1', topicPrefix: 'plant', timestamps: true, metrics: mqttDevice.firmware.metrics },
        mqttDevice.wire,
      );
      malformed += out.corrupted.malformed ?? 0;
      for (const m of out.units) {
        assert.match(m.topic, /^plant\/dev-1\/(vib_rms|current|bearing_temp|ambient_temp)$/);
        const r = decodePayload(Buffer.from(m.payload), {}, 65536);
        if (!r.ok) {
          assert.equal(r.rejection.reason, 'invalid_json');
          refused++;
        } else assert.equal(r.reading.ts, t.samples[0]!.ts);
      }
    }
    assert.ok(malformed > 5);
    assert.equal(refused, malformed);
  });

  test('stuck values repeat, spikes multiply one metric, a burst sends more samples, a skewed clock stamps skewed times', () => {
    const stuck = device({ faults: [{ type: 'stuck', at: '1s', duration: '1s' }] }).ticks(30);
    const frozen = stuck.slice(10, 20).map((t) => t.samples[0]!.values);
    assert.ok(
      frozen.every((v) => JSON.stringify(v) === JSON.stringify(frozen[0])),
      'frozen for the duration',
    );
    assert.notDeepEqual(stuck[20]!.samples[0]!.values, frozen[0], 'moving again after it');

    const clean = device({}).ticks(200);
    const spiky = device({ faults: [{ type: 'spike', probability: 0.1, factor: 8 }] }).ticks(200);
    let spikes = 0;
    spiky.forEach((t, k) => {
      const s = t.samples[0]!;
      if (!s.spiked) {
        assert.deepEqual(s.values, clean[k]!.samples[0]!.values);
        return;
      }
      spikes++;
      const v = s.values[s.spiked]!;
      const c = clean[k]!.samples[0]!.values[s.spiked]!;
      assert.ok(Math.abs(v - 8 * c) <= 0.01 * Math.abs(8 * c) + 0.01, `${s.spiked}: ${v} vs 8 × ${c}`);
    });
    assert.ok(spikes > 5);

    const burst = device({ faults: [{ type: 'burst', at: '500ms', duration: '200ms', count: 25 }] }).ticks(10);
    assert.deepEqual(
      burst.map((t) => t.samples.length),
      [1, 1, 1, 1, 1, 25, 25, 1, 1, 1],
    );
    const ts = burst[5]!.samples.map((s) => s.ts);
    assert.ok(
      ts.every((x, i) => i === 0 || x > ts[i - 1]!) && ts.at(-1) === T0 + 500,
      'spread over the tick, ending at it',
    );

    const skewed = device({ faults: [{ type: 'clock_skew', offset: '-90s', rate: 1.5 }] }).ticks(21);
    assert.equal(skewed[0]!.samples[0]!.ts, T0 - 90_000);
    assert.equal(skewed[20]!.samples[0]!.ts, T0 + 2000 + 1000 - 90_000, '2 s of real time pass as 3 s on its clock');
  });
});
