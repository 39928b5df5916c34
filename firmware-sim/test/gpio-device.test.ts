/**
 * Simulated GPIO devices on the simulated chip, read by the gateway's GPIO driver built from the
 * source the device describes: a flow meter's pulse train gives the model's flow, a silent or
 * stuck line reads zero flow, and a bouncing contact gives one event per real change.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { RecordingSink, until } from '../../drivers/test/support/recording-sink.js';
import { parseSimConfig } from '../config.js';
import { SimGpioChip } from '../gpio-chip.js';
import type { GpioSimDevice } from '../gpio-device.js';
import { Simulator } from '../simulator.js';
import { gatewayDriver } from './support/gateway-driver.js';

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function attach(device: Record<string, unknown>, driverOptions: Record<string, unknown>, timeScale = 1440) {
  const chip = new SimGpioChip();
  const sim = new Simulator(parseSimConfig({ timeScale, devices: [{ transport: 'gpio', ...device }] }), {
    devDir: '/nonexistent',
    gpioChip: () => chip,
  });
  const dev = sim.devices[0] as GpioSimDevice;
  await dev.open();
  const driver = gatewayDriver(dev, driverOptions, { openGpioChip: async () => chip });
  const sink = new RecordingSink();
  await driver.start(sink);
  cleanup = async () => {
    await driver.stop();
    await sim.stop();
    chip.close();
  };
  return { dev, sink, chip };
}

describe('simulated GPIO devices on the simulated chip, read by the GPIO driver', () => {
  test("a flow meter: the rate is the model's flow; a dropout and a stuck line read zero, then it recovers", async () => {
    const { dev, sink, chip } = await attach(
      {
        id: 'coolant-flow',
        pin: 22,
        metric: 'flow',
        pulsesPerUnit: 450,
        intervalMs: 100,
        model: { type: 'pump', flow: 4, period: '1h', duty: 1, noise: 0.02 },
        faults: [
          { type: 'dropout', at: '3s', duration: '1500ms' },
          { type: 'stuck', at: '6s', duration: '1500ms' },
        ],
      },
      { windowMs: 500 },
    );
    dev.run();
    await until('three windows of flow', () => sink.readings.filter((r) => r.value > 0).length >= 3, undefined, 30_000);
    const flowing = sink.readings.filter((r) => r.value > 0).slice(1);
    for (const r of flowing) assert.ok(Math.abs(r.value / 4 - 1) < 0.1, `${r.value} L/min for a 4 L/min pump`);
    assert.deepEqual(
      { sensor: flowing[0]!.sensor, metric: flowing[0]!.metric, unit: flowing[0]!.unit },
      { sensor: 'coolant-flow', metric: 'flow', unit: 'L/min' },
    );
    await until(
      'zero during the dropout',
      () => dev.stats.injected.dropout === 1 && sink.readings.at(-1)!.value === 0,
      undefined,
      30_000,
    );
    await until('flowing again', () => sink.readings.at(-1)!.value > 3, undefined, 30_000);
    await until(
      'zero while the line is stuck high',
      () => dev.stats.injected.stuck === 1 && sink.readings.at(-1)!.value === 0,
      undefined,
      30_000,
    );
    assert.equal(chip.level(22), 1);
    await until('flowing again after it', () => sink.readings.at(-1)!.value > 3, undefined, 30_000);
  });

  test('a door contact: every change bounces on the pin and arrives as exactly one debounced edge', async () => {
    const { dev, sink, chip } = await attach(
      { id: 'guard-door', pin: 17, intervalMs: 50, model: { type: 'switch', meanOpen: '300ms', meanClosed: '300ms' } },
      { mode: 'edges', stateIntervalMs: undefined },
      1,
    );
    dev.run();
    await until('ten changes of the door', () => dev.stats.sent >= 10, undefined, 30_000);
    await dev.pause();
    await until('the last edge', () => sink.readings.length >= dev.stats.sent);
    await new Promise((r) => setTimeout(r, 100)); // a bounce after the last change would show as an extra edge
    assert.equal(sink.readings.length, dev.stats.sent);
    assert.deepEqual(
      sink.readings.map((r) => r.value),
      sink.readings.map((_, i) => (i % 2 === 0 ? 1 : 0)),
      'open, closed, open … alternating',
    );
    assert.equal(sink.readings.at(-1)!.value, chip.level(17));
  });
});
