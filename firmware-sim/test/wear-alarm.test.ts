/**
 * The predictive-maintenance story end to end, in simulated time: a machine's bearing wears out
 * over ten days; its readings, as a consumer receives them, go through the example consumer's
 * analytics. The smoothed vibration rises towards the failure, and the consumer warns (trend)
 * and then alarms (level) before the bearing fails, without crying wolf early in its life.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Analytics, type WearEvent } from '../../gateway/offsite/consume/analytics.js';
import { parseSimConfig } from '../config.js';
import { DAY, HOUR, MINUTE } from '../models/model.js';
import { firmwareFor } from '../simulator.js';

const TTF = 10 * DAY;
const STEP = 5 * MINUTE;

for (const seed of [1, 2, 3, 4, 5]) {
  test(`seed ${seed}: smoothed vibration RMS rises towards the failure, and the consumer warns and alarms before it`, () => {
    const cfg = parseSimConfig({
      seed,
      devices: [
        {
          id: 'press-1',
          transport: 'serial',
          intervalMs: STEP,
          model: { type: 'machine', timeToFailure: TTF, replaceAtFailure: false },
          faults: [{ type: 'spike', probability: 0.01, factor: 8 }],
        },
      ],
    });
    const { firmware } = firmwareFor(cfg.devices[0]!, cfg);
    const analytics = new Analytics({
      windowMs: 12 * HOUR,
      smoothingMs: 2 * HOUR,
      maxSamples: 5000,
      wear: { metrics: ['vib_rms'], threshold: 7.1, horizonMs: 2 * DAY },
    });
    const events: Array<WearEvent & { life: number }> = [];
    const smoothedAt = new Map<number, number>();
    const steps = TTF / STEP;
    let seq = 0;
    for (let k = 0; k < steps; k++) {
      const ts = k * STEP; // simulated event time, as the device stamps it
      const values = firmware.tick(ts).samples[0]!.values;
      for (const [metric, value] of Object.entries(values)) {
        const e = analytics.add({ gateway: 'line1', sensor: 'press-1', metric, value, ts, seq: seq++ });
        if (e) events.push({ ...e, life: k / steps });
      }
      const life = Math.round((100 * k) / steps);
      if ([10, 40, 70, 85, 95].includes(life) && !smoothedAt.has(life)) {
        smoothedAt.set(life, analytics.stats().find((s) => s.metric === 'vib_rms')!.smoothed);
      }
    }
    const levels = [...smoothedAt.values()];
    assert.ok(
      levels.every((v, i) => i === 0 || v > levels[i - 1]!),
      `smoothed vib_rms at 10/40/70/85/95% life: ${levels.map((v) => v.toFixed(2))}`,
    );
    const first = (state: string) => events.find((e) => e.state === state);
    assert.ok(first('warning'), `a warning: ${JSON.stringify(events)}`);
    assert.ok(first('alarm'), 'an alarm');
    assert.ok(first('warning')!.life < first('alarm')!.life, 'the trend warns before the level alarms');
    assert.ok(first('alarm')!.life < 0.95, `alarm at ${first('alarm')!.life} of the life: days before the failure`);
    assert.ok(
      events.every((e) => e.life > 0.4),
      `nothing raised early in the life: ${events.map((e) => `${e.state}@${e.life.toFixed(2)}`)}`,
    );
    const vib = analytics.stats().find((s) => s.metric === 'vib_rms')!;
    assert.ok(vib.outliers > 0, 'the spikes were set aside, not taken for wear');
  });
}
