/** The example consumer's analytics: rolling statistics, deduplication, spikes, frozen sensors, wear states. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Analytics, type AnalyticsOptions, type ReadingRecord } from '../offsite/consume/analytics.js';

const S = 1000;
const options: AnalyticsOptions = {
  windowMs: 60 * S,
  smoothingMs: 10 * S,
  maxSamples: 1000,
  wear: { metrics: ['vib_rms'], threshold: 7.1, horizonMs: 300 * S },
};

function feeder(a: Analytics, over: Partial<ReadingRecord> = {}) {
  let seq = 0;
  return (ts: number, value: number, metric = 'vib_rms') =>
    a.add({ gateway: 'line1', sensor: 'press-1', metric, value, ts, seq: seq++, ...over });
}

const close = (a: number, b: number, tol = 1e-9) => Math.abs(a - b) <= tol;

describe('rolling statistics', () => {
  test('mean, RMS and least-squares slope over the window of event time', () => {
    const a = new Analytics(options);
    const add = feeder(a);
    // value = 2 + 0.01·t(s): 36 per hour; 0..120 s, so the window (60 s) keeps 60..120 s.
    for (let t = 0; t <= 120; t++) add(t * S, 2 + 0.01 * t, 'current');
    const [s] = a.stats();
    assert.equal(s!.key, 'line1/press-1/current');
    assert.equal(s!.n, 61);
    assert.equal(s!.total, 121);
    assert.ok(close(s!.mean, 2.9), `mean ${s!.mean}`);
    const values = Array.from({ length: 61 }, (_, i) => 2 + 0.01 * (60 + i));
    assert.ok(close(s!.rms, Math.sqrt(values.reduce((x, v) => x + v * v, 0) / 61)));
    assert.ok(close(s!.slopePerHour, 36, 1e-6), `slope ${s!.slopePerHour}/h`);
    assert.equal(s!.last, 3.2);
    assert.equal(s!.wear, undefined, 'not a wear metric');
  });

  test('a repeated reading (same gateway, sensor and seq, as at-least-once delivery may bring) counts once', () => {
    const a = new Analytics(options);
    const r = { gateway: 'line1', sensor: 'press-1', metric: 'current', value: 5, ts: 1000, seq: 7 };
    a.add(r);
    a.add({ ...r });
    a.add({ ...r, seq: 6, value: 100 });
    a.add({ ...r, gateway: 'line2' });
    assert.equal(a.duplicates, 2);
    assert.deepEqual(
      a.stats().map((s) => [s.key, s.total]),
      [
        ['line1/press-1/current', 1],
        ['line2/press-1/current', 1],
      ],
    );
  });

  test('a single spike is set aside; a new level confirmed by several readings is taken', () => {
    const a = new Analytics(options);
    const add = feeder(a);
    for (let t = 0; t < 50; t++) add(t * S, 2 + 0.05 * Math.sin(t));
    add(50 * S, 40);
    for (let t = 51; t < 60; t++) add(t * S, 2 + 0.05 * Math.sin(t));
    let s = a.stats()[0]!;
    assert.equal(s.outliers, 1);
    assert.ok(s.smoothed < 2.2 && s.wear!.state === 'ok', `smoothed ${s.smoothed}`);
    // A replaced bearing: the level drops and stays there.
    for (let t = 60; t < 70; t++) add(t * S, 0.8 + 0.01 * Math.sin(t));
    s = a.stats()[0]!;
    assert.equal(s.outliers, 3, 'two set aside before the third confirmed the new level');
    assert.ok(close(s.smoothed, 0.8, 0.05), `smoothed ${s.smoothed}`);
    // Only wear metrics are filtered: an on/off signal's changes are all taken.
    for (let t = 0; t < 30; t++) add(t * S, t < 20 ? 0 : 1, 'running');
    const running = a.stats().find((x) => x.metric === 'running')!;
    assert.equal(running.outliers, 0);
    assert.equal(running.n, 30);
  });

  test('a frozen sensor is flagged once its values fill half the window unchanged', () => {
    const a = new Analytics(options);
    const add = feeder(a);
    for (let t = 0; t < 20; t++) add(t * S, 21.5, 'ambient_temp');
    assert.equal(a.stats()[0]!.stuck, false, 'too short to tell');
    for (let t = 20; t < 40; t++) add(t * S, 21.5, 'ambient_temp');
    assert.equal(a.stats()[0]!.stuck, true);
    add(40 * S, 21.6, 'ambient_temp');
    assert.equal(a.stats()[0]!.stuck, false);
  });
});

describe('wear states', () => {
  test('a rising trend warns with the projected time, the level alarms, and both clear with a margin', () => {
    const a = new Analytics(options);
    const add = feeder(a);
    const events: string[] = [];
    const note = (e: ReturnType<typeof add>) => {
      if (e) events.push(`${e.previous}->${e.state}`);
    };
    for (let t = 0; t < 60; t++) note(add(t * S, 2));
    assert.deepEqual(events, []);
    // +0.01 per second: from 2 the threshold 7.1 is 510 s away, then within the 300 s horizon.
    let t = 60;
    for (; t < 300; t++) note(add(t * S, 2 + 0.01 * (t - 60)));
    const s = a.stats()[0]!;
    assert.equal(s.wear!.state, 'warning');
    assert.ok(s.wear!.projectedMs! > 0 && s.wear!.projectedMs! <= 300 * S, `projected ${s.wear!.projectedMs}`);
    for (; t < 900 && a.stats()[0]!.wear!.state !== 'alarm'; t++) note(add(t * S, 2 + 0.01 * (t - 60)));
    assert.ok(a.stats()[0]!.smoothed >= 7.1);
    assert.deepEqual(events, ['ok->warning', 'warning->alarm']);
    // Just under the threshold it stays an alarm; well under it, and flat, it clears.
    for (let i = 0; i < 60; i++, t++) note(add(t * S, 6.9));
    assert.equal(a.stats()[0]!.wear!.state, 'alarm');
    for (let i = 0; i < 200; i++, t++) note(add(t * S, 3));
    assert.deepEqual(events, ['ok->warning', 'warning->alarm', 'alarm->ok']);
  });

  test('no verdict on a trend until half the window is covered', () => {
    const a = new Analytics(options);
    const add = feeder(a);
    for (let t = 0; t < 25; t++) assert.equal(add(t * S, 2 + 0.2 * t), undefined, `t=${t}`);
  });
});
