/**
 * The ceilings the gateway is compared with, both C tools on the same broker and mosquitto:
 * - Kafka: kcat producing the records the gateway would produce (same keys and JSON values,
 *   gzip, acks=all, idempotent), read from a file;
 * - MQTT: the bare pipe publisher -> mosquitto -> mosquitto_sub at QoS 1, the same payloads, fed
 *   two ways: by the bench's own publisher, as the gateway is (the ceiling its ratio is taken
 *   against), and by mosquitto_pub, one per sensor (what C publishers reach).
 */
import { once } from 'node:events';
import { closeSync, createWriteStream, openSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type Bench, names, type PipelineResult, startPublisher } from './pipelines.js';
import { exited, expectSuccess, spawnTracked } from './proc.js';
import { kafkaLineOf, METRIC, payloadOf, SENSORS, sensorOf } from './workload.js';

/** mosquitto_pub -l numbers messages with 16-bit ids and, at end of input, waits for the PUBACK of the last id: past 65535 lines it stops at the first reuse of that id and loses the rest (mosquitto 2.0). */
const MOSQUITTO_PUB_MAX_LINES = 65_535;

async function writeLines(file: string, count: number, line: (i: number) => string): Promise<void> {
  const out = createWriteStream(file);
  let chunk = '';
  for (let i = 0; i < count; i++) {
    chunk += line(i);
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

function kcatProduce(b: Bench, topic: string, file: string) {
  return spawnTracked(
    'kcat',
    [
      '-P',
      '-b',
      b.kafka.brokers.join(','),
      '-t',
      topic,
      '-K',
      '\t',
      '-l',
      '-z',
      'gzip',
      '-X',
      'acks=all',
      '-X',
      'enable.idempotence=true',
      // The headers the gateway sets, except sg-seq (kcat cannot vary a header per record).
      '-H',
      'sg-gateway=bench-kcat',
      '-H',
      'sg-schema=reading/1',
      '-H',
      'content-type=application/json',
      file,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
}

export async function kcatCeiling(b: Bench, n: number): Promise<PipelineResult> {
  const { topic } = names(b, 'kcat');
  await b.probe.createTopic(topic);
  const now = Date.now();
  const warmFile = join(b.workDir, 'kcat-warmup.tsv');
  const file = join(b.workDir, 'kcat.tsv');
  await writeLines(warmFile, 2000, (i) => kafkaLineOf('bench-kcat', i, now));
  await writeLines(file, n, (i) => kafkaLineOf('bench-kcat', i, now));
  // The first idempotent producer on a fresh broker waits for the transaction coordinator: warm it up.
  await expectSuccess('kcat (warm-up)', kcatProduce(b, topic, warmFile));
  const t0 = Date.now();
  await expectSuccess('kcat', kcatProduce(b, topic, file));
  const t1 = Date.now();
  const seconds = (t1 - t0) / 1000;
  const total = await b.probe.total(topic);
  if (total !== 2000 + n) throw new Error(`kcat: ${total - 2000} of ${n} records arrived in ${topic}`);
  return { name: 'kcat', readings: n, startedAt: t0, endedAt: t1, seconds, readingsPerSecond: n / seconds };
}

/**
 * A mosquitto_sub at QoS 1 on `prefix/#`, already subscribed when this resolves; `done` resolves
 * when it has received `n` messages.
 */
async function pipeSubscriber(b: Bench, prefix: string, n: number): Promise<{ done: Promise<void> }> {
  const { host, port } = b.mosquitto;
  // A retained message under the subscription tells when mosquitto_sub is subscribed: it is
  // delivered at once on subscribe, as the first of the n + 1 messages the subscriber waits for.
  await expectSuccess(
    'mosquitto_pub (ready marker)',
    spawnTracked(
      'mosquitto_pub',
      ['-h', host, '-p', String(port), '-q', '1', '-r', '-t', `${prefix}/_ready`, '-m', 'ready'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    ),
  );
  const sub = spawnTracked(
    'mosquitto_sub',
    ['-h', host, '-p', String(port), '-q', '1', '-t', `${prefix}/#`, '-C', String(n + 1)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const done = expectSuccess('mosquitto_sub', sub);
  const lines = createInterface({ input: sub.stdout! });
  await Promise.race([once(lines, 'line'), exited(sub)]);
  lines.close();
  sub.stdout!.resume();
  return { done };
}

/** The bare pipe fed by C publishers: mosquitto_pub -l per sensor, reading prepared files. */
export async function mqttPipeCeiling(b: Bench, n: number): Promise<PipelineResult> {
  const { prefix } = names(b, 'pipe');
  const perSensor = Math.ceil(n / SENSORS);
  if (perSensor > MOSQUITTO_PUB_MAX_LINES)
    throw new Error(`bare MQTT pipe: ${perSensor} lines per mosquitto_pub exceeds ${MOSQUITTO_PUB_MAX_LINES}`);
  const { host, port } = b.mosquitto;
  const files: string[] = [];
  const now = Date.now();
  for (let s = 0; s < SENSORS; s++) {
    const file = join(b.workDir, `pipe-${s}.txt`);
    const count = Math.floor(n / SENSORS) + (s < n % SENSORS ? 1 : 0);
    await writeLines(file, count, (i) => `${payloadOf(i * SENSORS + s, now)}\n`);
    files.push(file);
  }
  const sub = await pipeSubscriber(b, prefix, n);
  const t0 = Date.now();
  const pubs = files.map((file, s) => {
    const fd = openSync(file, 'r');
    try {
      return expectSuccess(
        'mosquitto_pub',
        spawnTracked(
          'mosquitto_pub',
          ['-h', host, '-p', String(port), '-q', '1', '-M', '1000', '-l', '-t', `${prefix}/${sensorOf(s)}/${METRIC}`],
          { stdio: [fd, 'ignore', 'pipe'] },
        ),
      );
    } finally {
      closeSync(fd);
    }
  });
  await sub.done;
  const t1 = Date.now();
  await Promise.all(pubs);
  const seconds = (t1 - t0) / 1000;
  return { name: 'mqtt-pipe', readings: n, startedAt: t0, endedAt: t1, seconds, readingsPerSecond: n / seconds };
}

/**
 * The bare pipe fed as the gateway is: the bench's publisher (gateway/bench/publisher.ts), the
 * same process and options that feed every MQTT pipeline's burst. Only the subscriber differs
 * from the gateway's run, so the ratio of the two is what the gateway costs MQTT.
 */
export async function mqttPipeSameFeed(b: Bench, n: number): Promise<PipelineResult> {
  const { prefix } = names(b, 'pipe-same-feed');
  const sub = await pipeSubscriber(b, prefix, n);
  const publisher = startPublisher(b, { prefix, count: n, rate: 0 });
  const t0 = Number((await publisher.next('start', 30_000)).t);
  await sub.done;
  const t1 = Date.now();
  const published = await publisher.next('done', 30_000);
  const seconds = (t1 - t0) / 1000;
  return {
    name: 'mqtt-pipe-same-feed',
    readings: n,
    startedAt: t0,
    endedAt: t1,
    seconds,
    readingsPerSecond: n / seconds,
    publisherCpuSecondsPerMillion: (Number(published.cpuS) / n) * 1e6,
  };
}
