/**
 * Sparkplug B end to end, through the real daemon: a simulated edge node with two devices
 * publishes its births and then 10,000 data messages that name metrics by alias only, on a real
 * Mosquitto; `sensorgate run` reads them with `payload: sparkplug-b`; every metric reading is read
 * back from a real Kafka with kcat, with its sensor, metric, value and timestamp. A data message
 * sent before its birth is quarantined and counted, a lost message shows as a sequence gap, a
 * rebirth that reassigns the aliases is followed, and the edge node's death shows in the status.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KAFKA_VERSIONS, type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { encodePayload } from '../../drivers/mqtt/sparkplug-codec.js';
import { type Broker, startBroker } from '../../drivers/test/support/mosquitto.js';
import { type EdgeMetric, SparkplugEdgeNode } from '../../firmware-sim/sparkplug-node.js';
import { readQuarantined } from '../buffer/read-only.js';
import { type GatewayProcess, gatewayProcess, waitFor } from './support/gateway-process.js';
import { readTopic } from './support/kafka-reader.js';

const TOPIC = 'sparkplug.e2e.readings';
const SOURCE = 'scada';
const MESSAGES = 10_000;
const T0 = 1_764_500_000_000;

let kafka: KafkaBroker;
let mqttBroker: Broker;
let gw: GatewayProcess;

before(async () => {
  kafka = await startKafka({ version: KAFKA_VERSIONS.latest });
  mqttBroker = await startBroker();
  gw = await gatewayProcess({
    gateway: { id: 'e2e-sparkplug' },
    kafka: { brokers: kafka.brokers, topic: TOPIC },
    sources: [{ id: SOURCE, driver: 'mqtt', url: mqttBroker.url, topics: ['spBv1.0/plant/#'], payload: 'sparkplug-b' }],
  });
  await gw.start();
});

after(async () => {
  await gw?.stop();
  await gw?.dispose();
  await mqttBroker?.destroy();
  await kafka?.destroy();
});

const BOILER: EdgeMetric[] = [
  { name: 'Inputs/Temperature', type: 'Float', value: 20, unit: 'C' },
  { name: 'pressure', type: 'Double', value: 1, unit: 'bar' },
  { name: 'burner', type: 'Boolean', value: false },
];
const PUMP: EdgeMetric[] = [
  { name: 'flow', type: 'Double', value: 0, unit: 'l/min' },
  { name: 'rpm', type: 'Int32', value: 0 },
];

/** The values of data message i: distinct per message, exact in their datatype. */
function values(i: number): { device: 'boiler' | 'pump'; values: Record<string, number | boolean> } {
  return i % 2 === 0
    ? {
        device: 'boiler',
        values: { 'Inputs/Temperature': 20 + (i % 1000) / 4, pressure: 1 + i / 1e4, burner: i % 3 === 0 },
      }
    : { device: 'pump', values: { flow: i / 8, rpm: -i } };
}

/** The reading each value makes: the metric name mapped, Float rounded to 32 bits, booleans 1/0. */
function expected(device: string, metric: string, value: number | boolean): [string, string, number] {
  const metricName = metric === 'Inputs/Temperature' ? 'Inputs.Temperature' : metric;
  const v = typeof value === 'boolean' ? (value ? 1 : 0) : metric === 'Inputs/Temperature' ? Math.fround(value) : value;
  return [`edge-1.${device}`, metricName, v];
}

const rejected = (reason: string) => gw.metric('sensorgate_readings_rejected_total', { source: SOURCE, reason });

test('births then 10,000 aliased data messages: every reading in Kafka with sensor, metric, value and ts; early data quarantined; a rebirth followed; the death shown', async () => {
  await waitFor('the source up', async () => (await gw.status()).sources[0].state === 'up', 30_000);
  const node = new SparkplugEdgeNode({ url: mqttBroker.url, group: 'plant', node: 'edge-1' });
  node.device('boiler', BOILER);
  node.device('pump', PUMP);
  // Until the subscription is in place, births go nowhere: repeat them until the gateway has one.
  await node.connect();
  await waitFor(
    'the births taken in',
    async () => {
      if ((await gw.status()).sources[0].readings > 0) return true;
      await node.birth();
      return false;
    },
    30_000,
  );

  // A device that sends data before its birth: quarantined as unknown_alias and counted.
  await node.publishRaw(
    'DDATA',
    'mixer',
    encodePayload({ timestamp: T0, metrics: [{ alias: 42, type: 'Double', value: 1 }] }),
  );

  const sent: Array<[string, string, number, number]> = [];
  const publish = async (from: number, to: number) => {
    for (let start = from; start < to; start += 200) {
      const batch: Array<Promise<void>> = [];
      for (let i = start; i < Math.min(to, start + 200); i++) {
        const m = values(i);
        const ts = T0 + i;
        for (const [metric, v] of Object.entries(m.values)) sent.push([...expected(m.device, metric, v), ts]);
        batch.push(node.data(m.device, m.values, ts));
      }
      await Promise.all(batch);
    }
  };
  await publish(0, MESSAGES);
  // Born again: the aliases are now assigned in reverse, so a stale table would misname every metric.
  await node.birth();
  // One message lost on the way: the next one's sequence number shows the gap.
  node.lose();
  await publish(MESSAGES, MESSAGES + 100);

  const key = (r: { sensor: string; metric: string; value: number; ts: number }) =>
    `${r.sensor}|${r.metric}|${r.value}|${r.ts}`;
  const want = new Set(sent.map(([sensor, metric, value, ts]) => key({ sensor, metric, value, ts })));
  assert.equal(want.size, sent.length, "the test's readings are distinct");
  // kcat waits for a topic that does not exist yet: read only once the gateway has sent some.
  await waitFor('readings sent', async () => (await gw.status()).uplink.sent > 0, 60_000);
  const records = (await waitFor(
    'every data reading in Kafka',
    async () => {
      const r = (await readTopic(kafka.brokers, TOPIC)).filter((x) => x.value.source === SOURCE);
      const got = new Set(r.map((x) => key(x.value)));
      let missing = 0;
      for (const k of want) if (!got.has(k)) missing++;
      return missing === 0 ? r : undefined;
    },
    180_000,
  ))!;
  const isData = (ts: number) => ts >= T0 && ts < T0 + MESSAGES + 100;
  const data = records.filter((r) => isData(r.value.ts));
  assert.equal(data.length, sent.length, 'each reading once');
  const sample = data.find((r) => r.value.metric === 'Inputs.Temperature')!;
  assert.equal(sample.key, 'e2e-sparkplug/edge-1.boiler');
  assert.equal(sample.value.unit, 'C', "the unit from the birth's engUnit property");
  assert.equal(data.find((r) => r.value.metric === 'rpm')!.value.unit, undefined);

  // The births' readings too, stamped with the births' (current) time.
  const births = records.filter((r) => !isData(r.value.ts));
  assert.ok(
    births.some(
      (r) => r.value.sensor === 'edge-1' && r.value.metric === 'Node_20Control.Rebirth' && r.value.value === 0,
    ),
  );
  assert.ok(births.some((r) => r.value.sensor === 'edge-1.pump' && r.value.metric === 'flow'));

  assert.equal(await rejected('unknown_alias'), 1);
  assert.equal(await rejected('sequence_gap'), 1);
  const quarantined = readQuarantined(join(gw.dir, 'data'), 100);
  assert.ok(
    quarantined.some((q) => q.reason === 'unknown_alias' && /edge-1\.mixer: alias 42/.test(q.detail)),
    JSON.stringify(quarantined.slice(0, 5)),
  );

  // The edge node loses power: the broker publishes its will, and the status page says so.
  await node.die();
  const detail = await waitFor(
    'the death in the status',
    async () => {
      const d: string | undefined = (await gw.status()).sources[0].detail;
      return d?.startsWith('Sparkplug: 0 of 4 online; offline: edge-1 (NDEATH') ? d : undefined;
    },
    30_000,
  );
  assert.match(detail!, /edge-1\.boiler \(NDEATH/);
  assert.equal((await gw.status()).sources[0].state, 'up', 'the source itself stays up');
});
