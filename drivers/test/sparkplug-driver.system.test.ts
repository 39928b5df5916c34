/**
 * The MQTT driver with `payload: sparkplug-b` against a real Mosquitto and the simulated edge node
 * of firmware-sim: the driver contract, and deaths (the MQTT will) and births shown in the state.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SparkplugEdgeNode } from '../../firmware-sim/sparkplug-node.js';
import { MqttDriver, type MqttSourceOptions } from '../mqtt/mqtt-driver.js';
import { driverContract } from './driver-contract.js';
import { type Broker, sourceOptions, startBroker } from './support/mosquitto.js';
import { RecordingSink, StalledSink, until } from './support/recording-sink.js';

const options = (url: string, over: Partial<MqttSourceOptions> = {}) =>
  sourceOptions({ id: 'scada', url, topics: ['spBv1.0/plant/#'], payload: 'sparkplug-b', ...over });

function edgeNode(url: string, node = 'edge-1'): SparkplugEdgeNode {
  const n = new SparkplugEdgeNode({
    url,
    group: 'plant',
    node,
    metrics: [{ name: 'uptime', type: 'Int64', value: 0 }],
  });
  n.device('boiler', [
    { name: 'Inputs/Temperature', type: 'Float', value: 70, unit: 'C' },
    { name: 'burner', type: 'Boolean', value: false },
  ]);
  n.device('pump', [{ name: 'flow', type: 'Double', value: 1.5, unit: 'l/min' }]);
  return n;
}

driverContract(
  'mqtt sparkplug-b',
  async () => {
    const broker = await startBroker();
    const node = edgeNode(broker.url);
    let n = 0;
    return {
      create: () => new MqttDriver(options(broker.url)),
      device: {
        // A new driver knows no aliases yet: a birth first, as an edge node sends on a rebirth request.
        async produce() {
          if (!node.connected) {
            await node.connect().catch(() => undefined);
            return;
          }
          await node.birth().catch(() => undefined);
          await node.data('boiler', { 'Inputs/Temperature': 70 + (n++ % 10) }).catch(() => undefined);
        },
        unplug: () => broker.stop(),
        replug: () => broker.start(),
      },
      async close() {
        await node.die();
        await broker.destroy();
      },
    };
  },
  { unplugs: true },
);

describe('mqtt sparkplug-b source', () => {
  let broker: Broker;
  before(async () => {
    broker = await startBroker();
  });
  after(async () => {
    await broker.destroy();
  });

  test("births, aliased data, the will's NDEATH and a DDEATH show in the state detail; a rebirth brings them back", async () => {
    const driver = new MqttDriver(options(broker.url));
    const sink = new RecordingSink();
    const node = edgeNode(broker.url);
    await driver.start(sink);
    try {
      await until('up', () => sink.lastState === 'up');
      // The subscription is made right after connecting; a birth before it would be missed.
      await until(
        'the births',
        () => sink.readings.some((r) => r.sensor === 'edge-1.pump'),
        async () => {
          if (!node.connected) await node.connect();
          else await node.birth();
        },
        20_000,
      );
      assert.match(sink.states.at(-1)!.detail!, /^Sparkplug: 3 of 3 online$/);
      await node.data('boiler', { 'Inputs/Temperature': 81.5, burner: true }, 1_764_500_000_000);
      await until('the data', () => sink.readings.some((r) => r.value === 81.5));
      const temp = sink.readings.find((r) => r.value === 81.5)!;
      assert.deepEqual(temp, {
        sensor: 'edge-1.boiler',
        metric: 'Inputs.Temperature',
        value: 81.5,
        ts: 1_764_500_000_000,
        unit: 'C',
      });
      assert.ok(sink.readings.some((r) => r.sensor === 'edge-1.boiler' && r.metric === 'burner' && r.value === 1));

      await node.deviceDeath('pump');
      await until('the DDEATH', () => /offline: edge-1\.pump \(DDEATH/.test(sink.states.at(-1)?.detail ?? ''));
      assert.equal(sink.lastState, 'up', 'the source itself is still up');
      const before = sink.readings.length;
      await node.die();
      await until('the will (NDEATH)', () =>
        /^Sparkplug: 0 of 3 online; offline: edge-1 \(NDEATH/.test(sink.states.at(-1)?.detail ?? ''),
      );
      assert.equal(sink.readings.length, before, 'a death makes no readings');

      await node.connect();
      await until('born again', () => sink.states.at(-1)?.detail === 'Sparkplug: 3 of 3 online');
      // The second birth reversed the aliases: data still lands on the right metrics.
      await node.data('pump', { flow: 2.75 });
      await node.data('boiler', { 'Inputs/Temperature': 90 });
      await until('data after the rebirth', () => sink.readings.some((r) => r.value === 90));
      assert.deepEqual(
        sink.readings.filter((r) => r.value === 2.75).map((r) => [r.sensor, r.metric, r.unit]),
        [['edge-1.pump', 'flow', 'l/min']],
      );
      assert.deepEqual(
        sink.readings.filter((r) => r.value === 90).map((r) => [r.sensor, r.metric]),
        [['edge-1.boiler', 'Inputs.Temperature']],
      );
      assert.deepEqual(
        sink.rejections.filter((r) => r.reason !== 'not_a_number'),
        [],
      );
    } finally {
      await node.close();
      await driver.stop();
    }
  });

  test('a source that missed the births asks the edge node for them, then resolves its data', async () => {
    const node = edgeNode(broker.url, 'edge-2');
    await node.connect(); // born before the source listens
    const driver = new MqttDriver(options(broker.url));
    const sink = new RecordingSink();
    await driver.start(sink);
    try {
      await until('up', () => sink.lastState === 'up');
      await until(
        'data resolved after a rebirth it asked for',
        () => sink.readings.some((r) => r.sensor === 'edge-2.pump' && r.value === 3.25),
        () => node.data('pump', { flow: 3.25 }),
        20_000,
      );
      assert.ok(node.births >= 2, 'the edge node was asked to be born again');
      assert.ok((sink.reasons().unknown_alias ?? 0) >= 1);
    } finally {
      await node.close();
      await driver.stop();
    }
  });

  test('acknowledged only once durable: at most receiveMaximum messages wait for their commit, all arrive once commits resume', async () => {
    const node = edgeNode(broker.url, 'edge-4');
    const driver = new MqttDriver(options(broker.url, { receiveMaximum: 5, mqttVersion: '3.1.1' }));
    const sink = new StalledSink();
    try {
      await driver.start(sink);
      await until('up', () => sink.lastState === 'up');
      await node.connect();
      await until(
        'the births',
        () => sink.readings.some((r) => r.sensor === 'edge-4.pump'),
        () => {
          sink.commitAll();
          return node.birth();
        },
      );
      sink.commitAll();
      const before = sink.submits;
      const sent = Promise.all(Array.from({ length: 50 }, (_, i) => node.data('pump', { flow: 100 + i })));
      await until('the first window', () => sink.submits >= before + 5);
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(sink.submits, before + 5, 'no PUBACK, no further intake: the broker holds the rest');
      const interval = setInterval(() => sink.commitAll(), 20);
      try {
        await until('every message', () => sink.readings.filter((r) => r.value >= 100).length >= 50);
      } finally {
        clearInterval(interval);
      }
      await sent;
      assert.deepEqual(
        sink.readings.filter((r) => r.value >= 100).map((r) => r.value),
        Array.from({ length: 50 }, (_, i) => 100 + i),
      );
    } finally {
      sink.commitAll();
      await node.close();
      sink.commitAll();
      await driver.stop();
    }
  });

  test('messages over the rate limit are refused as rate_limited, and not counted again as a sequence gap', async () => {
    const driver = new MqttDriver(options(broker.url, { maxRatePerS: 1, maxBurst: 3 }));
    const sink = new RecordingSink();
    const node = edgeNode(broker.url, 'edge-4');
    await driver.start(sink);
    try {
      await until('up', () => sink.lastState === 'up');
      await node.connect(); // NBIRTH and two DBIRTHs: the burst
      await until('the births', () => sink.readings.some((r) => r.sensor === 'edge-4.pump'));
      for (let i = 0; i < 20; i++) await node.data('pump', { flow: i });
      await until('refusals', () => (sink.reasons().rate_limited ?? 0) >= 10);
      const taken = sink.readings.length;
      await until(
        'data taken again once the rate allows',
        () => sink.readings.length > taken,
        () => node.data('pump', { flow: 99 }),
      );
      assert.equal(sink.reasons().sequence_gap, undefined, JSON.stringify(sink.reasons()));
    } finally {
      await node.close();
      await driver.stop();
    }
  });

  test('with rebirthRequests: false the source only listens', async () => {
    const node = edgeNode(broker.url, 'edge-3');
    await node.connect();
    const driver = new MqttDriver(options(broker.url, { rebirthRequests: false }));
    const sink = new RecordingSink();
    await driver.start(sink);
    try {
      await until('up', () => sink.lastState === 'up');
      await until(
        'data refused as unknown aliases',
        () => (sink.reasons().unknown_alias ?? 0) >= 3,
        () => node.data('pump', { flow: 1 }),
      );
      assert.equal(node.births, 1);
      assert.equal(sink.readings.filter((r) => r.sensor.startsWith('edge-3')).length, 0);
    } finally {
      await node.close();
      await driver.stop();
    }
  });
});
