/**
 * Simulated MQTT devices publishing to a real Mosquitto, read by the gateway's MQTT driver built
 * from the source the device describes: broken JSON is refused by reason, a device that loses its
 * connection delivers its backlog when back, a burst over a source's rate limit is refused as
 * rate_limited, and every message is accounted for.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { type Broker, startBroker } from '../../drivers/test/support/mosquitto.js';
import { RecordingSink, until } from '../../drivers/test/support/recording-sink.js';
import { parseSimConfig } from '../config.js';
import type { MqttSimDevice } from '../mqtt-device.js';
import { Simulator } from '../simulator.js';
import { gatewayDriver } from './support/gateway-driver.js';

let broker: Broker;
before(async () => {
  broker = await startBroker();
});
after(async () => {
  await broker?.destroy();
});

/** A device connected to the broker and the driver subscribed (proved by a probe message); the device not ticking yet. */
async function attach(device: Record<string, unknown>, driverOptions: Record<string, unknown> = {}) {
  const sim = new Simulator(
    parseSimConfig({
      timeScale: 1440,
      mqttUrl: broker.url,
      devices: [{ transport: 'mqtt', model: { type: 'machine' }, ...device }],
    }),
    { devDir: '/nonexistent' },
  );
  const dev = sim.devices[0] as MqttSimDevice;
  await dev.open();
  const driver = gatewayDriver(dev, driverOptions);
  const sink = new RecordingSink();
  await driver.start(sink);
  const probe = await mqtt.connectAsync(broker.url);
  const topic = `${dev.cfg.topicPrefix}/${dev.sensor}/probe`;
  await until(
    'the driver subscribed',
    () => sink.readings.length > 0,
    () => probe.publishAsync(topic, '1', { qos: 1 }),
  );
  await probe.endAsync();
  return {
    dev,
    sink,
    async close() {
      await driver.stop();
      await sim.stop();
    },
  };
}

/** What the device sent, without the probes. */
const fromDevice = (sink: RecordingSink) => sink.readings.filter((r) => r.metric !== 'probe');

/** Run `ticks` ticks, then wait until everything the device sent has been handled by the driver. */
async function runFor(dev: MqttSimDevice, sink: RecordingSink, ticks: number): Promise<void> {
  dev.run();
  await until(`${ticks} ticks`, () => dev.stats.ticks >= ticks, undefined, 60_000);
  await dev.pause();
  await until(
    'every message handled',
    () => fromDevice(sink).length + sink.rejections.length >= dev.stats.sent,
    undefined,
    30_000,
  );
  assert.equal(
    fromDevice(sink).length + sink.rejections.length,
    dev.stats.sent,
    'each message became a reading or a rejection',
  );
}

describe('simulated MQTT devices on Mosquitto, read by the MQTT driver', () => {
  test('truncated JSON is refused as invalid_json, stuck values and a skewed clock arrive as sent', async () => {
    const { dev, sink, close } = await attach({
      id: 'pump-1',
      intervalMs: 20,
      faults: [
        { type: 'malformed', probability: 0.05 },
        { type: 'stuck', at: '500ms', duration: '400ms' },
        { type: 'clock_skew', offset: '10m' },
      ],
    });
    try {
      await runFor(dev, sink, 100);
      assert.ok(dev.stats.injected.malformed! > 0);
      assert.deepEqual(sink.reasons(), { invalid_json: dev.stats.injected.malformed });
      assert.equal(fromDevice(sink).length, dev.stats.readings);
      const vib = sink.readings
        .filter((r) => r.metric === 'vib_rms')
        .sort((a, b) => a.ts! - b.ts!)
        .map((r) => r.value);
      assert.ok(
        vib.some((v, i) => vib.slice(i, i + 15).length === 15 && vib.slice(i, i + 15).every((x) => x === v)),
        'frozen for the stuck ticks',
      );
      const now = Date.now();
      assert.ok(
        fromDevice(sink).every((r) => r.ts! > now + 8 * 60_000 && r.unit !== undefined),
        'stamped by a clock 10 minutes ahead',
      );
    } finally {
      await close();
    }
  });

  test('a device that loses its connection keeps its readings and delivers them all once reconnected', async () => {
    const { dev, sink, close } = await attach({
      id: 'pump-2',
      intervalMs: 50,
      faults: [{ type: 'disconnect', at: '500ms', duration: '1s' }],
    });
    try {
      await runFor(dev, sink, 50);
      assert.equal(dev.stats.injected.disconnect, 1);
      assert.equal(dev.reconnects, 1);
      assert.equal(fromDevice(sink).length, dev.stats.readings);
      assert.deepEqual(sink.rejections, []);
      const ts = [...new Set(fromDevice(sink).map((r) => r.ts!))].sort((a, b) => a - b);
      assert.equal(ts.length, 50, 'a reading of every tick, those taken offline included');
    } finally {
      await close();
    }
  });

  test("a burst above the source's rate limit is refused as rate_limited, and nothing goes unaccounted", async () => {
    const { dev, sink, close } = await attach(
      { id: 'pump-3', intervalMs: 100, faults: [{ type: 'burst', at: '500ms', duration: '300ms', count: 20 }] },
      { maxRatePerS: 60, maxBurst: 60 },
    );
    try {
      await runFor(dev, sink, 20);
      assert.equal(dev.stats.injected.burst, 1);
      assert.ok(dev.stats.sent >= 4 * (17 + 3 * 20), `sent ${dev.stats.sent}`);
      const limited = sink.reasons().rate_limited ?? 0;
      assert.ok(limited > 0, JSON.stringify(sink.reasons()));
      assert.deepEqual(Object.keys(sink.reasons()), ['rate_limited']);
    } finally {
      await close();
    }
  });
});
