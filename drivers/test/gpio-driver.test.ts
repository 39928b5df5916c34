/** The GPIO driver through the GpioChip interface, on the simulated chip from firmware-sim. */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { SimGpioChip } from '../../firmware-sim/gpio-chip.js';
import type { GpioChip } from '../gpio/chip.js';
import { GpioDriver, type GpioSourceOptions } from '../gpio/gpio-driver.js';
import { openOnoffChip } from '../gpio/onoff-chip.js';
import { driverContract } from './driver-contract.js';
import { RecordingSink, until } from './support/recording-sink.js';

function options(chip: GpioChip, over: Partial<GpioSourceOptions>): GpioSourceOptions {
  return {
    id: 'door',
    pin: 17,
    mode: 'state',
    activeLow: false,
    stateIntervalMs: 60_000,
    windowMs: 500,
    pulsesPerUnit: 1,
    ratePer: 'second',
    openChip: async () => chip,
    ...over,
  };
}

/** Long enough for any bounce to have settled (debounce 20 ms); the assertions are about counts. */
const settled = () => new Promise((r) => setTimeout(r, 150));

describe('gpio driver on the simulated chip', () => {
  let chip: SimGpioChip;
  let driver: GpioDriver | undefined;
  beforeEach(() => {
    chip = new SimGpioChip();
  });
  afterEach(async () => {
    await driver?.stop();
    chip.close();
  });

  test('edges: a bouncing press and release give one event each, dated when the contact moved', async () => {
    driver = new GpioDriver(options(chip, { id: 'button', mode: 'edges' }));
    const sink = new RecordingSink();
    await driver.start(sink);
    // The contact moves between these two readings of the clock (a loaded machine may pause the
    // test anywhere, so not just after the first).
    const before = Date.now();
    chip.bounce(17, 1, { bounces: 5, spanMs: 6 });
    const after = Date.now();
    await until('press', () => sink.readings.length === 1);
    const { ts, ...reading } = sink.readings[0]!;
    assert.deepEqual(reading, { sensor: 'button', metric: 'edge', value: 1 });
    // Dated when the contact first moved, not when the debounce let it through: that is at least
    // 26 ms later (6 ms of bouncing, then 20 ms of quiet). The margin is for a loaded machine:
    // the driver turns the edge's monotonic time into wall-clock time when it delivers it.
    assert.ok(
      ts! >= before - 5 && ts! <= after + 15,
      `ts ${ts} is ${ts! - before} ms after the clock was read before the contact moved, ${ts! - after} ms after it was read after`,
    );
    chip.bounce(17, 0, { bounces: 3, spanMs: 4 });
    await until('release', () => sink.readings.length === 2);
    // A glitch shorter than the debounce time is nothing.
    chip.set(17, 1);
    chip.set(17, 0);
    await settled();
    assert.deepEqual(
      sink.readings.map((r) => r.value),
      [1, 0],
    );
    assert.equal(sink.lastState, 'up');
  });

  test('edges: a press longer than debounceMs counts though the event loop was busy all through it', async () => {
    driver = new GpioDriver(options(chip, { id: 'button', mode: 'edges', debounceMs: 20 }));
    const sink = new RecordingSink();
    await driver.start(sink);
    // The loop is kept busy (a buffer commit, a GC pause) from the press until past the release, so
    // the settle timer cannot run between them and both edges reach the driver first.
    chip.set(17, 1);
    const pressed = performance.now();
    while (performance.now() - pressed < 30);
    chip.set(17, 0);
    await settled();
    assert.deepEqual(
      sink.readings.map((r) => r.value),
      [1, 0],
    );
  });

  test('edges: only the chosen transitions, with activeLow inverting the level', async () => {
    chip.set(4, 1); // idle high: a button to ground with a pull-up
    driver = new GpioDriver(
      options(chip, { id: 'estop', pin: 4, mode: 'edges', edge: 'rising', activeLow: true, metric: 'pressed' }),
    );
    const sink = new RecordingSink();
    await driver.start(sink);
    for (let i = 0; i < 3; i++) {
      chip.bounce(4, 0);
      await until(`press ${i + 1}`, () => sink.readings.length === i + 1);
      chip.bounce(4, 1);
      await settled();
    }
    assert.deepEqual(
      sink.readings.map((r) => [r.metric, r.value]),
      [
        ['pressed', 1],
        ['pressed', 1],
        ['pressed', 1],
      ],
    );
  });

  test('state: the level at start, each debounced change, and a periodic reading', async () => {
    chip.set(17, 1);
    driver = new GpioDriver(options(chip, { mode: 'state', stateIntervalMs: 100, unit: 'closed' }));
    const sink = new RecordingSink();
    await driver.start(sink);
    assert.deepEqual(
      { ...sink.readings[0], ts: undefined },
      { sensor: 'door', metric: 'state', value: 1, unit: 'closed', ts: undefined },
    );
    chip.bounce(17, 0);
    await until(
      'the change and periodic readings after it',
      () => sink.readings.filter((r) => r.value === 0).length >= 3,
    );
    const values = sink.readings.map((r) => r.value);
    // Once 0, always 0: the bounce produced no 1 after the change.
    assert.ok(
      values.slice(values.indexOf(0)).every((v) => v === 0),
      `${values}`,
    );
  });

  test('pulses: a flow meter at 50 Hz and 450 pulses per litre reads 6.667 L/min within 1%, then follows a change to 120 Hz', async () => {
    driver = new GpioDriver(
      options(chip, {
        id: 'flow-1',
        pin: 22,
        mode: 'pulses',
        pulsesPerUnit: 450,
        ratePer: 'minute',
        unit: 'L/min',
        windowMs: 400,
      }),
    );
    const sink = new RecordingSink();
    await driver.start(sink);
    chip.pulses(22, 50);
    await until('4 windows', () => sink.readings.length >= 4);
    const expected = (50 / 450) * 60;
    // The first window began before the train: it reads what it saw, not the steady rate.
    for (const r of sink.readings.slice(1, 4))
      assert.ok(Math.abs(r.value / expected - 1) < 0.01, `${r.value} vs ${expected}`);
    assert.equal(sink.readings[0]!.unit, 'L/min');
    chip.pulses(22, 120);
    const n = sink.readings.length;
    await until('3 windows at the new rate', () => sink.readings.length >= n + 4);
    const faster = (120 / 450) * 60;
    for (const r of sink.readings.slice(n + 1, n + 4))
      assert.ok(Math.abs(r.value / faster - 1) < 0.01, `${r.value} vs ${faster}`);
    chip.stopPulses(22);
    await until('a zero rate', () => sink.readings.at(-1)!.value === 0);
  });

  test('pulses: a bouncing reed contact is counted once per pulse with debounceMs', async () => {
    driver = new GpioDriver(options(chip, { id: 'rpm', pin: 5, mode: 'pulses', debounceMs: 5, windowMs: 400 }));
    const sink = new RecordingSink();
    await driver.start(sink);
    // 20 pulses, each bouncing over 2 ms, 20 ms apart.
    for (let i = 0; i < 20; i++) {
      chip.bounce(5, 1, { bounces: 3, spanMs: 2 });
      await new Promise((r) => setTimeout(r, 10));
      chip.set(5, 0);
      await new Promise((r) => setTimeout(r, 10));
    }
    await until('the windows covering them', () => sink.readings.length >= 3);
    // Whatever the window split, every pulse is counted once: the rates integrate to 20 pulses.
    await until('a quiet window', () => sink.readings.at(-1)!.value === 0);
    const total = sink.readings.reduce((sum, r) => sum + r.value * 0.4, 0);
    assert.ok(total > 15 && total < 25, `about 20 pulses, got ${total}`);
  });

  test('a missing GPIO fails start with a clear error naming the source', async () => {
    const sink = new RecordingSink();
    const absent = new GpioDriver(
      options(chip, { id: 'door', openChip: () => openOnoffChip({ root: '/nonexistent/sys/class/gpio' }) }),
    );
    await assert.rejects(
      absent.start(sink),
      /source "door": GPIO is not available on this machine: \/nonexistent\/sys\/class\/gpio does not exist/,
    );
    assert.equal(sink.lastState, 'down');
    const wrongPin = new GpioDriver(options(chip, { id: 'door', pin: 99 }));
    await assert.rejects(
      wrongPin.start(new RecordingSink()),
      /source "door": pin 99 does not exist on the simulated chip/,
    );
  });
});

driverContract(
  'gpio',
  async () => {
    const chip = new SimGpioChip();
    return {
      create: () => new GpioDriver(options(chip, { id: 'door', mode: 'edges', debounceMs: 0 })),
      device: { produce: () => chip.set(17, chip.level(17) === 1 ? 0 : 1) },
      async close() {
        chip.close();
      },
    };
  },
  { unplugs: false },
);
