/**
 * Simulated serial devices on real pseudo-terminals (socat), read by the real serial driver
 * through serialport's real binding: every fault arrives as the driver expects (refused and
 * counted by reason, or a port that goes down and comes back), and a seeded run repeats itself.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { RawReading } from '../../drivers/driver.js';
import { SerialDriver } from '../../drivers/serial/serial-driver.js';
import { RecordingSink, until } from '../../drivers/test/support/recording-sink.js';
import { parseSimConfig } from '../config.js';
import type { SimDevice } from '../device.js';
import type { SerialSimDevice } from '../serial-device.js';
import { Simulator } from '../simulator.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** One serial device, its pty open and the driver reading it, not ticking yet. */
async function attach(device: Record<string, unknown>, o: { seed?: number; clock?: () => number } = {}) {
  const devDir = mkdtempSync(join(tmpdir(), 'sg-simdev-'));
  dirs.push(devDir);
  const sim = new Simulator(
    parseSimConfig({
      seed: o.seed ?? 1,
      timeScale: 1440,
      devices: [{ transport: 'serial', model: { type: 'machine' }, ...device }],
    }),
    { devDir, clock: o.clock },
  );
  const dev = sim.devices[0] as SerialSimDevice;
  await dev.open();
  const src = dev.source() as { path: string; baudRate: number; format: 'line' | 'jsonl'; requireChecksum?: boolean };
  const driver = new SerialDriver({
    id: dev.id,
    path: src.path,
    baudRate: src.baudRate,
    dataBits: 8,
    parity: 'none',
    stopBits: 1,
    format: src.format,
    requireChecksum: src.requireChecksum ?? false,
    reopenDelay: () => 100,
  });
  const sink = new RecordingSink();
  await driver.start(sink);
  await until('the port open', () => sink.lastState === 'up');
  return {
    dev,
    sink,
    async close() {
      await driver.stop();
      await sim.stop();
    },
  };
}

/** Run until `ticks` ticks went out, then wait until the driver has everything the device sent. */
async function runFor(dev: SimDevice, sink: RecordingSink, ticks: number, rejecting: readonly string[]): Promise<void> {
  dev.run();
  await until(`${ticks} ticks`, () => dev.stats.ticks >= ticks, undefined, 60_000);
  await dev.pause();
  const refused = () =>
    rejecting.reduce((n, f) => n + (dev.stats.injected[f as keyof typeof dev.stats.injected] ?? 0), 0);
  await until(
    'everything sent to arrive',
    () => sink.readings.length >= dev.stats.readings && sink.rejections.length >= refused(),
  );
  assert.equal(sink.readings.length, dev.stats.readings, 'readings arrived as sent');
  assert.equal(sink.rejections.length, refused(), 'one rejection per corrupted frame');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Longest run of equal consecutive values of one metric. */
function longestRun(readings: RawReading[], metric: string): number {
  let best = 0;
  let run = 0;
  let last: number | undefined;
  for (const r of readings.filter((x) => x.metric === metric)) {
    run = r.value === last ? run + 1 : 1;
    last = r.value;
    best = Math.max(best, run);
  }
  return best;
}

describe('simulated serial devices on a pseudo-terminal, read by the serial driver', () => {
  test('line frames with every value fault: noise and checksum errors refused by reason, stuck values, spikes, a burst and a skewed clock accepted', async () => {
    const { dev, sink, close } = await attach({
      id: 'press-1',
      format: 'line',
      checksum: true,
      intervalMs: 20,
      faults: [
        { type: 'garbage', probability: 0.05 },
        { type: 'bad_checksum', probability: 0.05 },
        { type: 'spike', probability: 0.05, factor: 20 },
        { type: 'stuck', at: '1s', duration: '400ms' },
        { type: 'burst', at: '2s', duration: '100ms', count: 30 },
        { type: 'clock_skew', offset: '-1h' },
      ],
    });
    try {
      await runFor(dev, sink, 150, ['garbage', 'bad_checksum']);
      const injected = dev.stats.injected;
      assert.ok(injected.garbage! > 0 && injected.bad_checksum! > 0 && injected.spike! > 0, JSON.stringify(injected));
      assert.deepEqual(sink.reasons(), { garbage: injected.garbage, bad_checksum: injected.bad_checksum });
      // 400 ms stuck at a frame every 20 ms: 20 equal values, fewer when a loaded machine delays
      // the device's timer (it skips the frames it is late for). Half of them never come by chance.
      assert.ok(longestRun(sink.readings, 'vib_rms') >= 10, 'values frozen for the 400 ms the sensor was stuck');
      const outliers = sink.readings.filter(
        (r) => r.value > 5 * median(sink.readings.filter((x) => x.metric === r.metric).map((x) => x.value)),
      ).length;
      assert.ok(
        outliers >= 1 && outliers <= injected.spike!,
        `${outliers} spikes arrived as readings, ${injected.spike} sent`,
      );
      assert.equal(injected.burst, 1);
      const ts = sink.readings
        .filter((r) => r.metric === 'current')
        .map((r) => r.ts!)
        .sort((a, b) => a - b);
      assert.ok(
        ts.some((t, i) => ts[i + 29] !== undefined && ts[i + 29]! - t < 20),
        '30 samples within one 20 ms tick: the burst',
      );
      const now = Date.now();
      assert.ok(
        sink.readings.every((r) => r.ts! < now - 3_500_000 && r.ts! > now - 3_700_000),
        'the device clock is an hour behind',
      );
      assert.equal(sink.lastState, 'up');
    } finally {
      await close();
    }
  });

  test('JSON lines: noise is garbage and truncated objects invalid_json, each counted once', async () => {
    const { dev, sink, close } = await attach({
      id: 'fan-3',
      format: 'jsonl',
      intervalMs: 20,
      faults: [
        { type: 'garbage', probability: 0.05 },
        { type: 'malformed', probability: 0.05 },
      ],
    });
    try {
      await runFor(dev, sink, 150, ['garbage', 'malformed']);
      assert.deepEqual(sink.reasons(), {
        garbage: dev.stats.injected.garbage,
        invalid_json: dev.stats.injected.malformed,
      });
      assert.ok(sink.readings.every((r) => r.sensor === 'fan-3' && r.unit !== undefined));
    } finally {
      await close();
    }
  });

  test('unplug: the device node disappears (the driver goes down, naming it) and comes back (the driver reopens it); a dropout is silence', async () => {
    const { dev, sink, close } = await attach({
      id: 'press-2',
      intervalMs: 50,
      faults: [
        { type: 'unplug', at: '500ms', duration: '1s' },
        { type: 'dropout', at: '2s', duration: '500ms' },
      ],
    });
    try {
      dev.run();
      await until('down', () => sink.lastState === 'down');
      const path = (dev.source() as { path: string }).path;
      assert.ok(
        sink.states.some((s) => s.state === 'down' && s.detail?.includes(path)),
        JSON.stringify(sink.states),
      );
      const before = sink.readings.length;
      await until(
        'up again, reading',
        () => sink.lastState === 'up' && sink.readings.length > before + 8,
        undefined,
        30_000,
      );
      await until('past the dropout', () => dev.stats.ticks >= 52);
      await dev.pause();
      assert.equal(dev.stats.injected.unplug, 1);
      assert.equal(dev.stats.injected.dropout, 1);
      assert.ok(dev.stats.lost >= 20 + 10, `samples not sent while unplugged and silent: ${dev.stats.lost}`);
    } finally {
      await close();
    }
  });

  test('a seeded device sends the same readings through the driver on every run, another seed others', async () => {
    /** Readings by the tick they belong to (the pinned clock stamps tick k with T0 + 20·k). */
    const byTick = async (seed: number) => {
      let t = 1_800_000_000_000;
      const { dev, sink, close } = await attach(
        { id: 'press-3', intervalMs: 20, faults: [{ type: 'spike', probability: 0.1 }] },
        { seed, clock: () => (t += 20) },
      );
      try {
        await runFor(dev, sink, 60, []);
      } finally {
        await close();
      }
      const m = new Map<number, RawReading[]>();
      for (const r of sink.readings) m.set(r.ts!, [...(m.get(r.ts!) ?? []), r]);
      return m;
    };
    // A sample the line was too busy to take is lost on one run and not the other: compare the
    // ticks both runs delivered.
    const common = (a: Map<number, RawReading[]>, b: Map<number, RawReading[]>) =>
      [...a.keys()].filter((k) => b.has(k));
    const first = await byTick(3);
    const again = await byTick(3);
    const ticks = common(first, again);
    assert.ok(ticks.length >= 40, `${ticks.length} ticks in common`);
    for (const k of ticks) assert.deepEqual(again.get(k), first.get(k));
    const other = await byTick(4);
    assert.ok(common(first, other).every((k) => JSON.stringify(other.get(k)) !== JSON.stringify(first.get(k))));
  });
});
