/** Physical models and fault schedules: reproducible from a seed, and physically sensible. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type FaultConfig, type ModelConfig, parseSimConfig } from '../config.js';
import { FaultPlan } from '../faults.js';
import { BearingWear } from '../models/bearing-wear.js';
import { createModel } from '../models/create.js';
import { DAY, MINUTE } from '../models/model.js';
import { FirstOrderLag } from '../models/thermal.js';
import { seeded } from '../random.js';

/** A model config with its defaults, as the schema fills them in. */
function modelConfig(model: Record<string, unknown>): ModelConfig {
  return parseSimConfig({ devices: [{ id: 'd', transport: 'serial', model }] }).devices[0]!.model;
}

function run(
  model: Record<string, unknown>,
  seed: number | string,
  steps: number,
  dtMs = MINUTE,
): Array<Record<string, number>> {
  const m = createModel(modelConfig(model), seeded(seed).fork('model'));
  return Array.from({ length: steps }, () => m.step(dtMs));
}

describe('seeded models', () => {
  for (const model of [{ type: 'machine' }, { type: 'pump' }, { type: 'switch', meanOpen: '5m', meanClosed: '10m' }]) {
    test(`${model.type}: the same seed gives the same values, another seed other values`, () => {
      const a = run(model, 42, 500);
      assert.deepEqual(run(model, 42, 500), a);
      assert.notDeepEqual(run(model, 43, 500), a);
      assert.notDeepEqual(run(model, 'another', 500), a);
    });
  }

  test('forked streams are independent of each other and of draw order', () => {
    const draw = (r: ReturnType<typeof seeded>) => Array.from({ length: 5 }, () => r.next());
    const first = draw(seeded(1).fork('a'));
    const root = seeded(1);
    draw(root);
    draw(root.fork('b'));
    const a = root.fork('a');
    assert.deepEqual(draw(a), first, 'draws elsewhere do not move a fork');
    assert.notDeepEqual(draw(seeded(1).fork('b')), first);
    const normals = Array.from({ length: 20_000 }, () => a.normal());
    const mean = normals.reduce((s, x) => s + x, 0) / normals.length;
    const sd = Math.sqrt(normals.reduce((s, x) => s + (x - mean) ** 2, 0) / normals.length);
    assert.ok(Math.abs(mean) < 0.05 && Math.abs(sd - 1) < 0.05, `normal(): mean ${mean}, sd ${sd}`);
  });
});

describe('bearing wear', () => {
  const options = {
    timeToFailureMs: 10 * DAY,
    lifeAtStart: 0,
    baseRms: 1.8,
    failureRms: 11.2,
    growth: 4,
    noise: 0,
    replaceAtFailure: true,
  };

  test('vibration stays near the new level for most of the life and reaches the failure level at the time to failure', () => {
    const b = new BearingWear(options, seeded(1));
    assert.equal(b.trueRms(0), 1.8);
    assert.ok(Math.abs(b.trueRms(1) - 11.2) < 1e-9);
    assert.ok(b.trueRms(0.5) < 1.8 + 0.15 * (11.2 - 1.8), 'half way, most of the growth is still to come');
    let last = 0;
    for (let life = 0; life <= 1; life += 0.05) {
      assert.ok(b.trueRms(life) > last, `rises at life ${life}`);
      last = b.trueRms(life);
    }
  });

  test('life runs with simulated time, and a failed bearing is replaced', () => {
    const b = new BearingWear({ ...options, lifeAtStart: 0.9 }, seeded(1));
    assert.ok(Math.abs(b.remainingMs() - DAY) < 1e-3);
    b.step(DAY / 2, 0.5);
    assert.ok(Math.abs(b.life - 0.95) < 1e-9);
    b.step(DAY, 0.5);
    assert.equal(b.replacements, 1);
    assert.ok(Math.abs(b.life - 0.05) < 1e-9);
  });

  test("the machine model's vibration, current and bearing temperature all rise with wear", () => {
    const values = run({ type: 'machine', timeToFailure: '10d', replaceAtFailure: false }, 5, 10 * 24 * 12, 5 * MINUTE);
    const meanOf = (metric: string, from: number, to: number) => {
      const part = values.slice(Math.floor(from * values.length), Math.floor(to * values.length));
      return part.reduce((s, v) => s + v[metric]!, 0) / part.length;
    };
    for (const metric of ['vib_rms', 'current', 'bearing_temp']) {
      assert.ok(meanOf(metric, 0.9, 1) > meanOf(metric, 0, 0.2), `${metric} is higher near failure`);
    }
    assert.ok(meanOf('vib_rms', 0.9, 1) > 3 * meanOf('vib_rms', 0, 0.2));
    // The ambient temperature has nothing to do with the bearing.
    assert.ok(Math.abs(meanOf('ambient_temp', 0.9, 1) - meanOf('ambient_temp', 0, 0.2)) < 3);
  });
});

describe('thermal lag and pump duty cycle', () => {
  test('a first-order lag covers 63% of a step in one time constant, whatever the step size', () => {
    for (const steps of [1, 10, 1000]) {
      const lag = new FirstOrderLag(20, 30 * MINUTE);
      for (let i = 0; i < steps; i++) lag.step((30 * MINUTE) / steps, 80);
      assert.ok(Math.abs(lag.value - (20 + 60 * (1 - Math.exp(-1)))) < 1e-9, `${steps} steps: ${lag.value}`);
    }
  });

  test('the pump runs for its duty share of each cycle, at its nominal flow', () => {
    const values = run({ type: 'pump', flow: 4, period: '1h', duty: 0.25, noise: 0.02 }, 9, 24 * 60);
    const running = values.filter((v) => v.running === 1);
    assert.ok(
      Math.abs(running.length / values.length - 0.25) < 0.01,
      `ran ${running.length} of ${values.length} minutes`,
    );
    assert.ok(values.every((v) => (v.running === 1) === v.flow! > 0));
    const mean = running.reduce((s, v) => s + v.flow!, 0) / running.length;
    assert.ok(Math.abs(mean - 4) < 0.05, `mean flow ${mean}`);
  });
});

describe('fault plan', () => {
  const plan = (faults: unknown[], intervalMs = 100, seed = 1) => {
    const d = parseSimConfig({
      devices: [{ id: 'd', transport: 'serial', intervalMs, model: { type: 'machine' }, faults }],
    }).devices[0]!;
    return new FaultPlan(d.faults as FaultConfig[], intervalMs, seeded(seed));
  };
  const ticks = (p: FaultPlan, n: number) => Array.from({ length: n }, () => p.next());

  test('scheduled: at, every and duration in real time become ticks', () => {
    const t = ticks(plan([{ type: 'dropout', at: '1s', every: '2s', duration: '500ms' }]), 60);
    const active = t.flatMap((f, k) => (f.active.has('dropout') ? [k] : []));
    assert.deepEqual(active, [10, 11, 12, 13, 14, 30, 31, 32, 33, 34, 50, 51, 52, 53, 54]);
    assert.deepEqual(
      t.flatMap((f, k) => (f.started.includes('dropout') ? [k] : [])),
      [10, 30, 50],
    );
    assert.deepEqual(
      t.flatMap((f, k) => (f.ended.includes('dropout') ? [k] : [])),
      [15, 35, 55],
    );
  });

  test('without a trigger a fault is there all the time; a one-tick fault at its tick only', () => {
    const t = ticks(
      plan([
        { type: 'clock_skew', rate: 1.5 },
        { type: 'garbage', at: '300ms' },
      ]),
      10,
    );
    assert.ok(t.every((f) => f.active.has('clock_skew')));
    assert.deepEqual(
      t.flatMap((f, k) => (f.active.has('garbage') ? [k] : [])),
      [3],
    );
  });

  test('random faults come at their rate, the same ticks for the same seed, each fault on its own stream', () => {
    const faults = [{ type: 'garbage', probability: 0.1 }];
    const hits = (p: FaultPlan) => ticks(p, 5000).flatMap((f, k) => (f.active.has('garbage') ? [k] : []));
    const a = hits(plan(faults));
    assert.ok(a.length > 400 && a.length < 600, `${a.length} of 5000 at 10%`);
    assert.deepEqual(hits(plan(faults)), a);
    assert.notDeepEqual(hits(plan(faults, 100, 2)), a);
    // Adding another fault leaves this one's ticks as they were.
    assert.deepEqual(hits(plan([...faults, { type: 'spike', probability: 0.5 }])), a);
  });
});
