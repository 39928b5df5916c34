/**
 * The contract every driver passes (as MQTT.js/aedes-persistence do for their stores): each
 * driver's test file calls `driverContract` with a factory and a simulated device, and the same
 * tests run against it: start, stop, restart, health states, reading shape, clean stop.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Driver } from '../driver.js';
import { isName } from '../names.js';
import { RecordingSink, until } from './support/recording-sink.js';

export interface SimulatedDevice {
  /** Make the device send at least one good reading. Called repeatedly while a test waits. */
  produce(): Promise<void> | void;
  /** Take the device away (unplug, broker down) and bring it back; required when `unplugs` is set. */
  unplug?(): Promise<void>;
  replug?(): Promise<void>;
}

export interface ContractFixture {
  /** A new, unstarted driver talking to the device. */
  create(): Driver;
  device: SimulatedDevice;
  close(): Promise<void>;
}

/** How long a test watches for something that must not happen (a negative check, not a timing). */
const QUIET_WATCH_MS = 400;

export function driverContract(name: string, setup: () => Promise<ContractFixture>, opts: { unplugs: boolean }): void {
  describe(`driver contract: ${name}`, () => {
    let fx: ContractFixture;
    before(async () => {
      fx = await setup();
    });
    after(async () => {
      await fx?.close();
    });

    async function startAndRead(driver: Driver, sink: RecordingSink, atLeast = 1): Promise<void> {
      await driver.start(sink);
      await until(
        `${name}: readings`,
        () => sink.readings.length >= atLeast,
        () => fx.device.produce(),
      );
    }

    test('starts, reports starting then up, and emits well-formed readings', async () => {
      const driver = fx.create();
      const sink = new RecordingSink();
      try {
        assert.equal(typeof driver.id, 'string');
        assert.equal(typeof driver.driver, 'string');
        await startAndRead(driver, sink, 2);
        assert.equal(sink.states[0]?.state, 'starting');
        assert.ok(
          sink.states.some((s) => s.state === 'up'),
          `states: ${JSON.stringify(sink.states)}`,
        );
        for (const r of sink.readings) {
          assert.ok(isName(r.sensor), `sensor ${r.sensor}`);
          assert.ok(isName(r.metric), `metric ${r.metric}`);
          assert.ok(Number.isFinite(r.value), `value ${r.value}`);
          // Absent ts means "stamped by the gateway on receipt"; present, it is epoch ms.
          assert.ok(r.ts === undefined || (Number.isSafeInteger(r.ts) && r.ts > 0), `ts ${r.ts}`);
          assert.ok(r.unit === undefined || typeof r.unit === 'string');
        }
      } finally {
        await driver.stop();
      }
    });

    test('stop is clean: reports stopped last, and nothing is submitted after stop resolves', async () => {
      const driver = fx.create();
      const sink = new RecordingSink();
      await startAndRead(driver, sink);
      await driver.stop();
      assert.equal(sink.lastState, 'stopped');
      const submits = sink.submits;
      const states = sink.states.length;
      const deadline = Date.now() + QUIET_WATCH_MS;
      while (Date.now() < deadline) {
        await fx.device.produce();
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(sink.submits, submits, 'submit() after stop');
      assert.equal(sink.states.length, states, 'state() after stop');
    });

    test('restarts: the same driver can be started again after stop', async () => {
      const driver = fx.create();
      const first = new RecordingSink();
      await startAndRead(driver, first);
      await driver.stop();
      const second = new RecordingSink();
      try {
        await startAndRead(driver, second);
        assert.ok(second.states.some((s) => s.state === 'up'));
      } finally {
        await driver.stop();
      }
      assert.equal(second.lastState, 'stopped');
    });

    test('stop without start, and a second stop, are harmless', async () => {
      const driver = fx.create();
      await driver.stop();
      const sink = new RecordingSink();
      await startAndRead(driver, sink);
      await driver.stop();
      await driver.stop();
      assert.equal(sink.states.filter((s) => s.state === 'stopped').length, 1);
    });

    // Only for devices that can vanish; a GPIO chip cannot be unplugged from a running board.
    if (opts.unplugs) {
      test('reports down while the device is gone and up again, with readings, once it is back', async () => {
        const driver = fx.create();
        const sink = new RecordingSink();
        try {
          await startAndRead(driver, sink);
          await fx.device.unplug!();
          await until(`${name}: down`, () => sink.lastState === 'down');
          await fx.device.replug!();
          const before = sink.readings.length;
          await until(
            `${name}: up and reading again`,
            () => sink.lastState === 'up' && sink.readings.length > before,
            () => fx.device.produce(),
          );
        } finally {
          await driver.stop();
        }
      });
    }
  });
}
