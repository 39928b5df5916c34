/**
 * Modbus TCP end to end, through the real daemon: `sensorgate run` polls two simulated Modbus TCP
 * slaves on real sockets, and the readings are read back from a real Kafka with kcat. One slave is
 * switched off and on again: its source goes down (counted in /metrics, shown in the status and
 * its problems) and comes back by itself, while the other source goes on; every reading the
 * gateway took in reaches Kafka.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { KAFKA_VERSIONS, type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { ModbusTcpSlave } from '../../firmware-sim/modbus-slave.js';
import { type GatewayProcess, gatewayProcess, waitFor } from './support/gateway-process.js';
import { readTopic } from './support/kafka-reader.js';

const TOPIC = 'modbus.tcp.e2e.readings';

let kafka: KafkaBroker;
let meter: ModbusTcpSlave;
let plc: ModbusTcpSlave;
let gw: GatewayProcess;

const source = (id: string, slave: ModbusTcpSlave, sensor: string) => ({
  id,
  driver: 'modbus',
  host: slave.host,
  port: slave.port,
  unitId: slave.unitId,
  pollIntervalMs: 100,
  timeoutMs: 500,
  registers: [
    { sensor, metric: 'voltage', unit: 'V', table: 'input', address: 0, type: 'uint16', scale: 0.1 },
    { sensor, metric: 'energy', unit: 'kWh', table: 'holding', address: 10, type: 'float32', wordOrder: 'little' },
  ],
});

before(async () => {
  kafka = await startKafka({ version: KAFKA_VERSIONS.latest });
  meter = new ModbusTcpSlave({ unitId: 1 });
  plc = new ModbusTcpSlave({ unitId: 7 });
  for (const [s, v] of [
    [meter, 2301],
    [plc, 4000],
  ] as const) {
    s.set('input', 0, v);
    s.set('holding', 10, 1.5, 'float32', 'little');
    await s.start();
  }
  gw = await gatewayProcess({
    gateway: { id: 'e2e-modbus-tcp' },
    kafka: { brokers: kafka.brokers, topic: TOPIC },
    sources: [source('meter-tcp', meter, 'meter-1'), source('plc-tcp', plc, 'plc-7')],
  });
  await gw.start();
});

after(async () => {
  await gw?.dispose();
  await meter?.stop();
  await plc?.stop();
  await kafka?.destroy();
});

const state = async (id: string) =>
  ((await gw.status()).sources as Array<{ id: string; state: string; detail?: string; readings: number }>).find(
    (s) => s.id === id,
  )!;
const inKafka = async () => (await readTopic(kafka.brokers, TOPIC)).map((r) => r.value);

test('readings reach Kafka; the slave switched off and on: its source down and up, counted and shown, the other source unaffected, nothing lost', async () => {
  // kcat waits for a topic that does not exist yet: read only once the gateway has sent some.
  await waitFor('readings sent', async () => (await gw.status()).uplink.sent > 0, 60_000);
  const first = await waitFor(
    'readings of both slaves in Kafka',
    async () => {
      const v = await inKafka();
      return v.some((r) => r.sensor === 'meter-1') && v.some((r) => r.sensor === 'plc-7') ? v : undefined;
    },
    180_000,
  );
  const volt = first!.find((r) => r.sensor === 'meter-1' && r.metric === 'voltage');
  assert.ok(
    Math.abs(volt.value - 230.1) < 1e-9 && volt.unit === 'V' && volt.source === 'meter-tcp',
    JSON.stringify(volt),
  );
  assert.equal(first!.find((r) => r.sensor === 'plc-7' && r.metric === 'energy').value, 1.5);
  assert.equal(await gw.metric('sensorgate_source_down_total', { source: 'meter-tcp' }), 0);

  await meter.stop();
  const down = await waitFor(
    'meter-tcp down',
    async () => {
      const s = await state('meter-tcp');
      return s.state === 'down' ? s : undefined;
    },
    30_000,
  );
  assert.match(down!.detail!, new RegExp(`127\\.0\\.0\\.1:${meter.port}`));
  const status = await gw.status();
  assert.ok(
    status.problems.some(
      (p: { code: string; detail: string }) => p.code === 'source_down' && p.detail.startsWith('meter-tcp:'),
    ),
    JSON.stringify(status.problems),
  );
  assert.equal(await gw.metric('sensorgate_source_down_total', { source: 'meter-tcp' }), 1);
  // The other source goes on meanwhile.
  const plcBefore = (await state('plc-tcp')).readings;
  await waitFor('plc-tcp still reading', async () => (await state('plc-tcp')).readings > plcBefore + 10, 30_000);
  assert.equal((await state('plc-tcp')).state, 'up');

  meter.set('input', 0, 2420);
  await meter.start();
  await waitFor('meter-tcp up again', async () => (await state('meter-tcp')).state === 'up', 60_000);
  await waitFor(
    'the new value in Kafka',
    async () =>
      (await inKafka()).some((r) => r.sensor === 'meter-1' && r.metric === 'voltage' && Math.abs(r.value - 242) < 1e-9),
    60_000,
  );
  assert.equal(await gw.metric('sensorgate_source_down_total', { source: 'meter-tcp' }), 1);
  assert.equal(await gw.metric('sensorgate_source_down_total', { source: 'plc-tcp' }), 0);
  assert.equal((await gw.status()).problems.filter((p: { code: string }) => p.code === 'source_down').length, 0);

  // With both slaves off nothing more comes in; stopped cleanly, the gateway has handed Kafka
  // every reading it took in, once each.
  await meter.stop();
  await plc.stop();
  await waitFor(
    'both sources down',
    async () => (await state('meter-tcp')).state === 'down' && (await state('plc-tcp')).state === 'down',
    30_000,
  );
  const ingested = await gw.metric('sensorgate_readings_ingested_total');
  assert.equal(await gw.stop(), 0);
  const all = await inKafka();
  assert.equal(new Set(all.map((r) => r.seq)).size, ingested, 'every reading taken in is in Kafka');
  assert.equal(all.length, ingested, 'and once');
  assert.equal(all.filter((r) => r.sensor === 'plc-7').length, all.filter((r) => r.source === 'plc-tcp').length);
});
