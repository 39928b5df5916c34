/** The pure parts of the GPIO driver: debouncing, pulse rates, BCM pin to sysfs line. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { GpioUnavailableError } from '../gpio/chip.js';
import { Debouncer } from '../gpio/debounce.js';
import { openOnoffChip } from '../gpio/onoff-chip.js';
import { PulseRate } from '../gpio/pulse-rate.js';
import { readSysfsChips, type SysfsChip, sysfsLine } from '../gpio/sysfs.js';

describe('debouncing', () => {
  test('a bouncing contact gives one change, dated at its first edge', () => {
    const d = new Debouncer(0, 20);
    for (const [level, ts] of [
      [1, 100],
      [0, 101],
      [1, 102.5],
      [0, 103],
      [1, 104],
    ] as const)
      d.edge(level, ts);
    assert.equal(d.deadline, 124);
    assert.equal(d.settle(123.9), undefined);
    assert.deepEqual(d.settle(124), { level: 1, ts: 100 });
    assert.equal(d.level, 1);
    assert.equal(d.deadline, undefined);
  });

  test('a glitch that returns to the old level counts for nothing', () => {
    const d = new Debouncer(1, 10);
    d.edge(0, 50);
    d.edge(1, 52);
    assert.equal(d.settle(70), undefined);
    assert.equal(d.level, 1);
  });

  test('a change that had settled counts when the next edge comes before settle() was called', () => {
    // Held at 1 from 0 to 30 with 20 ms debouncing: both edges arrive before anyone asked at 20.
    const d = new Debouncer(0, 20);
    assert.equal(d.edge(1, 0), undefined);
    assert.deepEqual(d.edge(0, 30), { level: 1, ts: 0 });
    assert.equal(d.level, 1);
    assert.equal(d.deadline, 50);
    assert.deepEqual(d.settle(100), { level: 0, ts: 30 });
    // Within the debounce time the second edge is still a bounce.
    const b = new Debouncer(0, 20);
    b.edge(1, 0);
    assert.equal(b.edge(0, 19.5), undefined);
    assert.equal(b.settle(100), undefined);
    assert.equal(b.level, 0);
  });

  test('repeated levels are not edges; zero debounce passes every change', () => {
    const d = new Debouncer(0, 0);
    d.edge(0, 5);
    assert.equal(d.deadline, undefined);
    d.edge(1, 6);
    assert.deepEqual(d.settle(6), { level: 1, ts: 6 });
    d.edge(1, 7);
    d.edge(0, 8);
    assert.deepEqual(d.settle(8), { level: 0, ts: 8 });
  });
});

describe('pulse rate', () => {
  /** Pulses at `hz` from `t0` up to (excluding) `t1`. */
  const feed = (r: PulseRate, hz: number, t0: number, t1: number) => {
    for (let t = t0; t < t1; t += 1000 / hz) r.pulse(t);
  };

  test('a steady train reads exactly, whatever the phase of the windows', () => {
    const r = new PulseRate();
    feed(r, 37, 3.3, 1000);
    assert.ok(Math.abs(r.close(0, 1000) - 37) < 1e-9);
    feed(r, 37, 3.3 + 37 * (1000 / 37), 2000);
    assert.ok(Math.abs(r.close(1000, 2000) - 37) < 1e-9);
  });

  test('no pulses is 0; a single pulse is counted over the window', () => {
    const r = new PulseRate();
    assert.equal(r.close(0, 1000), 0);
    r.pulse(500);
    assert.equal(r.close(1000, 2000), 1);
  });

  test('a train that stops mid-window reads lower at once and 0 after', () => {
    const r = new PulseRate();
    feed(r, 100, 0, 1000);
    assert.ok(Math.abs(r.close(0, 1000) - 100) < 1e-9);
    feed(r, 100, 1000, 1500);
    const partial = r.close(1000, 2000);
    assert.ok(partial > 45 && partial < 55, `${partial}`);
    assert.equal(r.close(2000, 3000), 0);
  });
});

describe('BCM pin to sysfs line', () => {
  const pi4Bookworm: SysfsChip[] = [
    { name: 'gpiochip512', base: 512, ngpio: 58, label: 'pinctrl-bcm2711' },
    { name: 'gpiochip570', base: 570, ngpio: 8, label: 'raspberrypi-exp-gpio' },
  ];
  const pi5: SysfsChip[] = [
    { name: 'gpiochip512', base: 512, ngpio: 32, label: 'gpio-brcmstb@107d508500' },
    { name: 'gpiochip544', base: 544, ngpio: 4, label: 'gpio-brcmstb@107d508520' },
    { name: 'gpiochip571', base: 571, ngpio: 54, label: 'pinctrl-rp1' },
  ];
  const pi3Bullseye: SysfsChip[] = [{ name: 'gpiochip0', base: 0, ngpio: 54, label: 'pinctrl-bcm2835' }];

  test('the header chip is found by label and its base is added', () => {
    assert.equal(sysfsLine(17, pi4Bookworm).line, 529);
    assert.equal(sysfsLine(17, pi5).line, 588);
    assert.equal(sysfsLine(17, pi3Bullseye).line, 17);
    assert.equal(sysfsLine(2, pi4Bookworm, 'raspberrypi-exp-gpio').line, 572);
  });

  test('unknown chips and pins are clear errors', () => {
    assert.throws(
      () => sysfsLine(17, [{ name: 'gpiochip0', base: 0, ngpio: 32, label: 'sunxi-pinctrl' }]),
      (e: Error) =>
        e instanceof GpioUnavailableError &&
        /no Raspberry Pi header GPIO chip found \(chips: gpiochip0 "sunxi-pinctrl"\); set chipLabel/.test(e.message),
    );
    assert.throws(
      () => sysfsLine(60, pi4Bookworm),
      /pin 60 does not exist on gpiochip512 "pinctrl-bcm2711" \(lines 0-57\)/,
    );
    assert.throws(() => sysfsLine(1, pi4Bookworm, 'nope'), /no GPIO chip labelled "nope"/);
  });

  test('chips are read from the sysfs tree; a machine without one says so', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sg-sysfs-'));
    try {
      for (const c of pi5) {
        mkdirSync(join(root, c.name));
        writeFileSync(join(root, c.name, 'base'), `${c.base}\n`);
        writeFileSync(join(root, c.name, 'ngpio'), `${c.ngpio}\n`);
        writeFileSync(join(root, c.name, 'label'), `${c.label}\n`);
      }
      writeFileSync(join(root, 'export'), '');
      assert.deepEqual(
        readSysfsChips(root).sort((a, b) => a.base - b.base),
        pi5,
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    await assert.rejects(
      openOnoffChip({ root: join(root, 'gone') }),
      (e: Error) =>
        e instanceof GpioUnavailableError &&
        /GPIO is not available on this machine: .*gone does not exist/.test(e.message),
    );
  });
});
