/**
 * The simulator's network devices read by the drivers the gateway builds from the sources they
 * describe: a Modbus TCP slave (bus faults counted by reason, a disconnect taking the source down
 * and back up) and a Sparkplug B edge node on a real Mosquitto (readings named by edge node and
 * device, a disconnect seen as the node's death, then a rebirth with new aliases followed).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Broker, startBroker } from '../../drivers/test/support/mosquitto.js';
import { RecordingSink, until } from '../../drivers/test/support/recording-sink.js';
import { parseSimConfig } from '../config.js';
import type { ModbusTcpSimDevice } from '../modbus-device.js';
import { Simulator } from '../simulator.js';
import type { SparkplugSimDevice } from '../sparkplug-device.js';
import { gatewayDriver } from './support/gateway-driver.js';

async function attach<T>(device: Record<string, unknown>, mqttUrl?: string) {
  const sim = new Simulator(parseSimConfig({ timeScale: 1440, ...(mqttUrl ? { mqttUrl } : {}), devices: [device] }), {
    devDir: '/nonexistent',
  });
  const dev = sim.devices[0]!;
  await dev.open();
  const driver = gatewayDriver(dev);
  const sink = new RecordingSink();
  await driver.start(sink);
  dev.run();
  return {
    dev: dev as T,
    sink,
    async close() {
      await driver.stop();
      await sim.stop();
    },
  };
}

describe('a simulated Modbus TCP slave, polled by the Modbus driver', () => {
  test('busy replies are each one rejection; a disconnect takes the source down, and it comes back by itself', async () => {
    const { dev, sink, close } = await attach<ModbusTcpSimDevice>({
      id: 'compressor-meter',
      transport: 'modbus-tcp',
      unitId: 4,
      intervalMs: 100,
      model: { type: 'machine' },
      faults: [
        { type: 'busy', probability: 0.2 },
        { type: 'disconnect', at: '2s', duration: '1s' },
      ],
    });
    try {
      assert.match(dev.describe(), /^modbus tcp {2}127\.0\.0\.1:\d+ {2}\(unit 4: input 0-1 vib_rms float32/);
      await until('readings', () => sink.readings.length > 8, undefined, 30_000);
      await until('down while switched off', () => sink.lastState === 'down', undefined, 30_000);
      assert.match(sink.states.at(-1)!.detail!, new RegExp(`127\\.0\\.0\\.1:${dev.port}`));
      const before = sink.readings.length;
      await until(
        'up again, with readings',
        () => sink.lastState === 'up' && sink.readings.length > before + 8,
        undefined,
        30_000,
      );
      assert.equal(dev.stats.injected.disconnect, 1);
      assert.ok((sink.reasons().modbus_exception ?? 0) > 0, JSON.stringify(sink.reasons()));
      assert.deepEqual(Object.keys(sink.reasons()), ['modbus_exception']);
      assert.ok(sink.readings.every((r) => r.sensor === 'compressor-meter' && Number.isFinite(r.value)));
    } finally {
      await close();
    }
  });
});

describe('a simulated Sparkplug B edge node, read by the MQTT driver with payload: sparkplug-b', () => {
  let broker: Broker;
  before(async () => {
    broker = await startBroker();
  });
  after(async () => {
    await broker.destroy();
  });

  test("readings named by edge node and device; a disconnect is its death, the rebirth's new aliases are followed", async () => {
    const { dev, sink, close } = await attach<SparkplugSimDevice>(
      {
        id: 'chiller-pump',
        transport: 'sparkplug',
        node: 'scada-edge',
        intervalMs: 100,
        model: { type: 'pump', flow: 12, period: '1h', duty: 1 },
        faults: [{ type: 'disconnect', at: '1500ms', duration: '500ms' }],
      },
      broker.url,
    );
    try {
      assert.equal(dev.readingSensor, 'scada-edge.chiller-pump');
      // The subscription follows the birth; data resolve once a birth has been seen, so wait for the rebirth.
      await until('the death', () => /scada-edge \(NDEATH/.test(sink.states.at(-1)?.detail ?? ''), undefined, 30_000);
      await until('born again', () => sink.states.at(-1)?.detail === 'Sparkplug: 2 of 2 online', undefined, 30_000);
      const before = sink.readings.length;
      await until('data after the rebirth', () => sink.readings.length > before + 10, undefined, 30_000);
      const after = sink.readings.slice(before).filter((r) => r.sensor === 'scada-edge.chiller-pump');
      // The pump runs all the time: a misresolved alias would put the flow under `running` or vice versa.
      assert.ok(
        after.filter((r) => r.metric === 'running').every((r) => r.value === 1),
        JSON.stringify(after.slice(0, 4)),
      );
      assert.ok(
        after.filter((r) => r.metric === 'flow').every((r) => r.value > 5 && r.unit === 'L/min'),
        JSON.stringify(after.slice(0, 4)),
      );
      assert.equal(dev.stats.injected.disconnect, 1);
      assert.deepEqual(
        Object.keys(sink.reasons()).filter((r) => r !== 'unknown_alias'),
        [],
      );
    } finally {
      await close();
    }
  });
});
