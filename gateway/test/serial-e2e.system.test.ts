/**
 * End to end through the real daemon: a device writes frames into a pseudo-terminal, `sensorgate
 * run` reads the other end with a serial source, and the readings are read back from a real Kafka
 * with kcat. Rejections are checked where an operator sees them, in /metrics.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { SerialPort } from 'serialport';
import { KAFKA_VERSIONS, type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { encodeLine, xorChecksum } from '../../drivers/serial/line-codec.js';
import { openSerialPort } from '../../drivers/serial/port.js';
import { type PtyPair, ptyPair } from '../../drivers/test/support/pty-pair.js';
import { type GatewayProcess, gatewayProcess, waitFor } from './support/gateway-process.js';
import { readTopic } from './support/kafka-reader.js';

const TOPIC = 'serial.e2e.readings';
const SOURCE = 'press-line';
const line = { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1 } as const;

let kafka: KafkaBroker;
let pair: PtyPair;
let gw: GatewayProcess;
let device: SerialPort | undefined;

async function openDevice(): Promise<void> {
  device = await openSerialPort({ path: pair.b, ...line });
}
async function closeDevice(): Promise<void> {
  const d = device;
  device = undefined;
  if (d?.isOpen) await new Promise<void>((r) => d.close(() => r()));
}
async function write(data: string | Buffer): Promise<void> {
  const d = device!;
  await new Promise<void>((resolve, reject) => d.write(data, (err) => (err ? reject(err) : d.drain(() => resolve()))));
}
const sourceState = async () => (await gw.status()).sources.find((s: { id: string }) => s.id === SOURCE)?.state;
const rejected = (reason: string) => gw.metric('sensorgate_readings_rejected_total', { source: SOURCE, reason });
/** Reading values in buffer order (Kafka keeps order per sensor only). */
const readings = async () => (await readTopic(kafka.brokers, TOPIC)).map((r) => r.value).sort((a, b) => a.seq - b.seq);

before(async () => {
  kafka = await startKafka({ version: KAFKA_VERSIONS.latest });
  pair = await ptyPair();
  await openDevice();
  gw = await gatewayProcess({
    gateway: { id: 'e2e-serial' },
    kafka: { brokers: kafka.brokers, topic: TOPIC },
    buffer: { commitIntervalMs: 5 },
    sources: [{ id: SOURCE, driver: 'serial', path: pair.a, baudRate: line.baudRate, format: 'line' }],
  });
  await gw.start();
});

after(async () => {
  await gw?.stop();
  await closeDevice();
  await pair?.destroy();
  await kafka?.destroy();
});

test('good frames reach Kafka; garbage, bad checksums, non-numbers and endless lines are counted in /metrics; the next frame still arrives', async () => {
  await waitFor('the serial source up', async () => (await sourceState()) === 'up', 30_000);
  await write('pump-3 temp=71.3,vib_rms=0.42 1732400000123*58\n');
  await write('fan-1 rpm=1200\r\n');
  await write(`${encodeLine({ sensor: 'fan-1', values: [['rpm', 1210]], ts: 1732400000500 }, { checksum: true })}\r\n`);
  await write(`tank.2 level=-1.5e3*${xorChecksum('tank.2 level=-1.5e3').toLowerCase()}\n`);
  await write(Buffer.from([0x00, 0xfe, 0x13, 0x37, 0x0a]));
  await write('pump-3 temp=71.3,vib_rms=0.42 1732400000123*59\n');
  await write('pump-3 temp=hot\n');
  for (let i = 0; i < 10; i++) await write(Buffer.alloc(1000, 0x5a));
  await write('\nvalve-7 open=1 1732400000999\n');

  const values = (await waitFor(
    'six readings in Kafka',
    async () => {
      const v = await readings();
      return v.some((r) => r.sensor === 'valve-7') && v.length >= 6 ? v : undefined;
    },
    120_000,
  ))!;
  assert.deepEqual(
    values.map((r) => [r.sensor, r.metric, r.value]),
    [
      ['pump-3', 'temp', 71.3],
      ['pump-3', 'vib_rms', 0.42],
      ['fan-1', 'rpm', 1200],
      ['fan-1', 'rpm', 1210],
      ['tank.2', 'level', -1500],
      ['valve-7', 'open', 1],
    ],
  );
  // The device's timestamps where it sent one; otherwise the gateway's receive time.
  const startedAt = Date.now() - 10 * 60_000;
  assert.deepEqual(
    values.map((r) => (r.ts >= startedAt ? 'received' : r.ts)),
    [1732400000123, 1732400000123, 'received', 1732400000500, 'received', 1732400000999],
  );
  assert.ok(values.every((r) => r.gateway === 'e2e-serial' && r.source === SOURCE && Number.isSafeInteger(r.seq)));

  await waitFor('rejections in /metrics', async () => (await rejected('too_large')) === 1, 30_000);
  assert.equal(await rejected('garbage'), 1);
  assert.equal(await rejected('bad_checksum'), 1);
  assert.equal(await rejected('not_a_number'), 1);
  assert.equal(await gw.metric('sensorgate_readings_ingested_total', { source: SOURCE }), 6);
});

test('the pty closed and re-created recovers without restarting the gateway', async () => {
  await closeDevice();
  await pair.stop();
  await waitFor('the source down', async () => (await sourceState()) === 'down', 30_000);
  await pair.start();
  await openDevice();
  await waitFor('the source up again', async () => (await sourceState()) === 'up', 60_000);
  await write('after-replug x=42\n');
  const back = await waitFor(
    'the reading after the replug in Kafka',
    async () => (await readings()).find((r) => r.sensor === 'after-replug'),
    60_000,
  );
  assert.equal(back.value, 42);
  assert.equal(await gw.stop(), 0, 'SIGTERM exits 0');
});
