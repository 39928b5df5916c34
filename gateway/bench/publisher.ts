/**
 * The bench's MQTT publisher, run as its own process so that its CPU is not the measured one's:
 *   node dist/gateway/bench/publisher.js '{"url":…,"prefix":…,"count":N,"rate":R,…}'
 * Publishes `count` readings with QoS 1 (or `qos`) across the workload's sensors, each stamped with its
 * publish time: as fast as the broker acknowledges them (rate 0, at most `window` unacknowledged),
 * or at a steady `rate` per second. SIGTERM ends it early: it publishes no more and waits for what it
 * sent. Reports on stdout, one JSON object per line: {"event":"start","t":MS} before the first publish,
 * {"event":"done","t":MS,"cpuS":S,"sent":N} after the last PUBACK.
 */
import mqtt from 'mqtt';
import { METRIC, payloadOf, topicOf } from './workload.js';

export interface PublisherOptions {
  url: string;
  prefix: string;
  count: number;
  /** Readings per second; 0 = as fast as the broker takes them. */
  rate: number;
  metric?: string;
  /** Most publishes awaiting their PUBACK (QoS 2: PUBCOMP) at once. */
  window?: number;
  qos?: 1 | 2;
}

const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

async function publish(o: PublisherOptions): Promise<void> {
  const window = o.window ?? 1000;
  const metric = o.metric ?? METRIC;
  const client = await mqtt.connectAsync(o.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
  const t0 = Date.now();
  emit({ event: 'start', t: t0 });
  let sent = 0;
  let acked = 0;
  let count = o.count;
  await new Promise<void>((resolve, reject) => {
    process.once('SIGTERM', () => {
      count = sent;
      if (acked === count) resolve();
    });
    const due = () => (o.rate > 0 ? Math.min(count, Math.floor(((Date.now() - t0) * o.rate) / 1000)) : count);
    const pump = () => {
      const until = due();
      while (sent < until && sent - acked < window) {
        const i = sent++;
        client.publish(topicOf(o.prefix, i, metric), payloadOf(i, Date.now()), { qos: o.qos ?? 1 }, (err) => {
          if (err) return reject(err);
          if (++acked === count) resolve();
          else if (o.rate === 0) pump();
        });
      }
    };
    if (o.rate > 0) {
      const timer = setInterval(() => {
        pump();
        if (sent === count) clearInterval(timer);
      }, 10);
    }
    pump();
  });
  const cpu = process.cpuUsage();
  emit({ event: 'done', t: Date.now(), cpuS: (cpu.user + cpu.system) / 1e6, sent });
  await client.endAsync();
}

publish(JSON.parse(process.argv[2] ?? '{}') as PublisherOptions).catch((err: Error) => {
  process.stderr.write(`publisher: ${err.message}\n`);
  process.exit(1);
});
