/**
 * Simulated Modbus RTU slaves on real pseudo-terminals, polled by the gateway's Modbus driver
 * (modbus-serial as master), built from the source the device describes: each bus fault becomes
 * one rejection with its reason, a silent or unplugged slave takes the source down and back up.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RecordingSink, until } from '../../drivers/test/support/recording-sink.js';
import { parseSimConfig } from '../config.js';
import type { ModbusSimDevice } from '../modbus-device.js';
import { Simulator } from '../simulator.js';
import { gatewayDriver } from './support/gateway-driver.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function attach(device: Record<string, unknown>) {
  const devDir = mkdtempSync(join(tmpdir(), 'sg-simbus-'));
  dirs.push(devDir);
  const sim = new Simulator(parseSimConfig({ timeScale: 1440, devices: [{ transport: 'modbus', ...device }] }), {
    devDir,
  });
  const dev = sim.devices[0] as ModbusSimDevice;
  await dev.open();
  const driver = gatewayDriver(dev);
  const sink = new RecordingSink();
  dev.run();
  await driver.start(sink);
  return {
    dev,
    sink,
    async close() {
      await driver.stop();
      await sim.stop();
    },
  };
}

describe('simulated Modbus slaves, polled by the Modbus driver', () => {
  test('CRC errors, timeouts and busy exceptions are each one rejection with its reason; the other reads flow', async () => {
    const { dev, sink, close } = await attach({
      id: 'meter-1',
      unitId: 3,
      intervalMs: 100,
      model: { type: 'machine' },
      faults: [
        { type: 'bad_crc', probability: 0.1 },
        { type: 'timeout', at: '1s', every: '2s' },
        { type: 'busy', probability: 0.1 },
      ],
    });
    try {
      await until('60 ticks', () => dev.stats.ticks >= 60, undefined, 60_000);
      await dev.pause();
      await until('every queued fault read by the master', () => dev.pendingFaults === 0, undefined, 60_000);
      const { bad_crc, timeout, busy } = dev.stats.injected;
      assert.ok(bad_crc! > 0 && timeout! > 0 && busy! > 0, JSON.stringify(dev.stats.injected));
      await until('the last rejections submitted', () => sink.rejections.length >= bad_crc! + timeout! + busy!);
      assert.deepEqual(sink.reasons(), { bad_crc, timeout, modbus_exception: busy });
      assert.deepEqual(
        new Set(sink.readings.map((r) => r.metric)),
        new Set(['vib_rms', 'current', 'bearing_temp', 'ambient_temp']),
      );
      assert.ok(sink.readings.every((r) => r.sensor === 'meter-1' && Number.isFinite(r.value) && r.unit !== undefined));
      const temps = sink.readings.filter((r) => r.metric === 'bearing_temp').map((r) => r.value);
      assert.ok(
        temps.every((t) => t > 10 && t < 90),
        "float32 registers carry the model's temperatures",
      );
      assert.equal(sink.lastState, 'up');
    } finally {
      await close();
    }
  });

  test('scaled integer registers; a dropout and an unplug take the source down, and it comes back by itself', async () => {
    const { dev, sink, close } = await attach({
      id: 'dosing-pump',
      intervalMs: 100,
      model: { type: 'pump', flow: 1.2, period: '1h', duty: 0.5 },
      registers: [
        { metric: 'flow', table: 'holding', address: 100, type: 'int16', scale: 0.01 },
        { metric: 'running', table: 'holding', address: 101, type: 'uint16' },
      ],
      faults: [
        { type: 'dropout', at: '1s', duration: '1500ms' },
        { type: 'unplug', at: '4s', duration: '1500ms' },
      ],
    });
    try {
      await until('readings', () => sink.readings.length > 4);
      await until('down: the slave answers nothing', () => sink.lastState === 'down', undefined, 30_000);
      assert.match(sink.states.at(-1)!.detail!, /no valid reply/);
      await until('up again after the dropout', () => sink.lastState === 'up', undefined, 30_000);
      await until('the unplug', () => dev.stats.injected.unplug === 1, undefined, 30_000);
      await until(
        'down: the port is gone',
        () => sink.states.some((s) => s.state === 'down' && /closed|cannot open/.test(s.detail ?? '')),
        undefined,
        30_000,
      );
      const before = sink.readings.length;
      await until(
        'up and reading again after the replug',
        () => sink.lastState === 'up' && sink.readings.length > before + 4,
        undefined,
        30_000,
      );
      const flows = sink.readings.filter((r) => r.metric === 'flow').map((r) => r.value);
      assert.ok(
        flows.every((f) => Math.abs(f * 100 - Math.round(f * 100)) < 1e-6 && f >= 0 && f < 2),
        `flows in 0.01 L/min steps: ${flows.slice(0, 5)}`,
      );
      assert.ok(sink.readings.filter((r) => r.metric === 'running').every((r) => r.value === 0 || r.value === 1));
    } finally {
      await close();
    }
  });
});
