/**
 * Clocks never decide scheduling. The real gateway process runs under libfaketime (Debian
 * `faketime`) with the wall clock changed at run time while readings flow at 20/s over MQTT, and
 * the monotonic clock left alone, as an NTP step leaves it: a boot without a real-time clock
 * (2023), the NTP sync, a step back of 3 days, SIGTERM and a restart there, a step forward of
 * 3 days. Intake goes on through every step (a commit window once computed from the wall clock
 * waited 3 days after the step back), SIGTERM exits within 10 s, every reading arrives in Kafka,
 * and readings taken before the sync say clockSynced: false.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { KAFKA_VERSIONS, type KafkaBroker, startKafka } from '../../deploy/kafka/launcher.js';
import { type Broker, startBroker } from '../../drivers/test/support/mosquitto.js';
import { Kafka, logLevel } from '../uplink/kafkajs.js';
import { libfaketime } from './support/faketime.js';
import { type GatewayProcess, gatewayProcess, waitFor } from './support/gateway-process.js';
import { readTopic } from './support/kafka-reader.js';
import { publisher as openPublisher, type Publisher } from './support/publisher.js';

const TOPIC = 'clock-step';
const PER_PHASE = 100;
const RATE = 20;

let kafka: KafkaBroker;
let mosquitto: Broker;
let gw: GatewayProcess;
let pub: Publisher | undefined;
let clockFile: string;
let preload: string;

/** The wall clock the gateway sees from now on (libfaketime re-reads the file at every call). */
const setClock = (spec: string) => writeFileSync(clockFile, `${spec}\n`);

before(async () => {
  preload = libfaketime();
  [kafka, mosquitto] = await Promise.all([startKafka({ version: KAFKA_VERSIONS.latest }), startBroker()]);
  // Record timestamps are the gateway's wall clock at send time. Years back, the broker's
  // retention would delete them at once; days ahead, it refuses them (log.message.timestamp.
  // after.max.ms). That is the cluster's policy, documented in docs/kafka.md, not what this test is
  // about: the broker stamps the records here, as docs/kafka.md advises for fleets with wrong clocks.
  const admin = new Kafka({ brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic: TOPIC, configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] }],
    waitForLeaders: true,
  });
  await admin.disconnect();
  gw = await gatewayProcess({
    gateway: { id: 'gw-clock' },
    kafka: { brokers: kafka.brokers, topic: TOPIC, statusTopic: `${TOPIC}.status` },
    sources: [
      { id: 'plant', driver: 'mqtt', url: mosquitto.url, topics: ['clk/#'], topicPattern: 'clk/{sensor}/{metric}' },
    ],
  });
  clockFile = join(gw.dir, 'faketime');
});
after(async () => {
  await pub?.close().catch(() => undefined);
  await gw?.dispose();
  await mosquitto?.destroy();
  await kafka?.destroy();
});

const env = () => ({
  LD_PRELOAD: preload,
  FAKETIME_TIMESTAMP_FILE: clockFile,
  FAKETIME_NO_CACHE: '1',
  // An NTP step moves the wall clock only: CLOCK_MONOTONIC goes on undisturbed.
  FAKETIME_DONT_FAKE_MONOTONIC: '1',
});

test('wall clock stepped back and forward 3 days at 20 readings/s: intake goes on, SIGTERM is prompt, every reading arrives', async (t) => {
  setClock('@2023-06-01 00:00:00'); // booted without a real-time clock, not yet synchronised
  await gw.start(env());
  pub = await openPublisher(mosquitto.url, 1, 'clk');
  const ingested = () => gw.metric('sensorgate_readings_ingested_total');
  let base = 0; // ingested by earlier runs of the process (the counter restarts with it)

  /** Publish one phase's readings at 20/s and wait until the gateway has taken them all in. */
  async function phase(clock: string): Promise<void> {
    setClock(clock);
    await pub!.publish(PER_PHASE, RATE);
    const t0 = performance.now();
    const want = pub!.next[0]! - base;
    await waitFor(`intake after the clock was set to ${clock}`, async () => (await ingested()) === want, 60_000);
    t.diagnostic(`${clock}: last reading taken in ${Math.round(performance.now() - t0)} ms after it was published`);
  }

  await phase('@2023-06-01 00:00:00');
  await phase('+0'); // NTP synchronised: a step of years forward
  await phase('-3d');
  const t0 = performance.now();
  assert.equal(await gw.stop(), 0, 'SIGTERM exits 0');
  const stopMs = performance.now() - t0;
  t.diagnostic(`SIGTERM after the step back: exited in ${Math.round(stopMs)} ms`);
  assert.ok(stopMs < 10_000, `SIGTERM took ${Math.round(stopMs)} ms`);
  base = pub.next[0]!;
  await gw.start(env());
  await phase('-3d');
  await phase('+3d');
  await phase('+0');

  const total = pub.next[0]!;
  let seen = new Set<number>();
  const values = (await waitFor(
    'every reading in Kafka',
    async () => {
      const v = (await readTopic(kafka.brokers, TOPIC)).map((r) => r.value);
      seen = new Set(v.map((x) => x.value));
      return seen.size === total ? v : undefined;
    },
    120_000,
  ).catch(async (err: Error) => {
    const missing = Array.from({ length: total }, (_, i) => i).filter((i) => !seen.has(i));
    const byPhase: Record<number, number> = {};
    for (const i of missing) byPhase[Math.floor(i / PER_PHASE)] = (byPhase[Math.floor(i / PER_PHASE)] ?? 0) + 1;
    throw new Error(
      `${err.message}: ${missing.length} missing, by phase ${JSON.stringify(byPhase)}; uplink ${JSON.stringify((await gw.status()).uplink)}\n${gw.logTail(15)}`,
    );
  }))!;
  // Before the sync every reading says clockSynced: false. The gateway notices the sync within a
  // second, so the first readings after it may still say false: once true, it stays true.
  const synced = new Map<number, boolean>(values.map((v) => [v.value, v.clockSynced]));
  const flags = Array.from({ length: total }, (_, i) => synced.get(i));
  assert.ok(
    flags.slice(0, PER_PHASE).every((f) => f === false),
    'readings taken before the sync say clockSynced: false',
  );
  assert.ok(
    flags.slice(2 * PER_PHASE).every((f) => f === true),
    'readings taken after the sync say clockSynced: true, across every later step',
  );
  const firstSynced = flags.indexOf(true);
  assert.ok(
    flags.slice(firstSynced).every((f) => f === true),
    `clockSynced never goes back to false (first true: reading ${firstSynced})`,
  );
  t.diagnostic(`clockSynced true from reading ${firstSynced} on (the sync came before reading ${PER_PHASE})`);
  assert.ok(
    values.filter((v) => v.value < PER_PHASE).every((v) => new Date(v.ts).getUTCFullYear() === 2023),
    'stamped with the clock as it was',
  );
  assert.equal(await gw.stop(), 0);
});
