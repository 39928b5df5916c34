/**
 * `sensorgate consume`: an example of a cloud-side predictive-maintenance consumer. It reads the
 * readings topic with read_committed isolation (so exactly-once gateways' aborted batches are
 * never seen), deduplicates on (gateway, seq), and shows per-series rolling statistics and the
 * bearing-wear alarm of consume/analytics.ts: a table (or JSON lines) every few seconds, and a
 * line whenever a wear state changes. Proof that what the gateways deliver serves the purpose.
 */
import type { Command } from 'commander';
import { ConfigError } from '../config/config.js';
import { createLogger } from '../lib/log.js';
import { Analytics, type ReadingRecord, type SeriesStats, type WearEvent } from '../offsite/consume/analytics.js';
import { kafkaClient } from '../uplink/kafka-client.js';
import { action } from './exit.js';
import { kafkaFromFlags } from './kafka-flags.js';
import { untilSignal } from './signals.js';

interface ConsumeCliOptions {
  brokers?: string;
  config?: string;
  topic?: string;
  group: string;
  metric: string;
  threshold: string;
  horizon: string;
  window: string;
  smoothing: string;
  interval: string;
  json?: boolean;
  logLevel: string;
}

/** The options as numbers, each refused with a line naming it. */
function settings(o: ConsumeCliOptions) {
  const problems: string[] = [];
  const positive = (flag: string, text: string) => {
    const n = Number(text);
    if (!(n > 0) || !Number.isFinite(n))
      problems.push(`${flag}: must be a positive number, got ${JSON.stringify(text)}`);
    return n;
  };
  const seconds = (flag: string, text: string) => positive(flag, text) * 1000;
  const kafka = kafkaFromFlags(o, process.env, 'topic', problems);
  const result = {
    analytics: {
      windowMs: seconds('--window', o.window),
      smoothingMs: seconds('--smoothing', o.smoothing),
      maxSamples: 5000,
      wear: {
        metrics: o.metric
          .split(',')
          .map((m) => m.trim())
          .filter(Boolean),
        threshold: positive('--threshold', o.threshold),
        horizonMs: seconds('--horizon', o.horizon),
      },
    },
    intervalMs: seconds('--interval', o.interval),
  };
  if (problems.length || !kafka) throw new ConfigError(problems);
  return { ...result, kafka };
}

/** A record of the readings topic (docs/reference/kafka-records.md), or undefined for anything else. */
function parseReading(value: Buffer | null): ReadingRecord | undefined {
  if (!value) return undefined;
  let r: unknown;
  try {
    r = JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
  const o = r as Record<string, unknown>;
  if (typeof o !== 'object' || o === null) return undefined;
  const ok =
    typeof o.gateway === 'string' &&
    typeof o.sensor === 'string' &&
    typeof o.metric === 'string' &&
    typeof o.value === 'number' &&
    typeof o.ts === 'number' &&
    typeof o.seq === 'number';
  if (!ok) return undefined;
  return {
    gateway: o.gateway as string,
    sensor: o.sensor as string,
    metric: o.metric as string,
    value: o.value as number,
    ts: o.ts as number,
    seq: o.seq as number,
    unit: typeof o.unit === 'string' ? o.unit : undefined,
  };
}

const fmt = (v: number, digits = 3) => (Number.isFinite(v) ? v.toFixed(digits) : '-');

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${(s / 3600).toFixed(1)}h`;
}

function describeWearEvent(e: WearEvent, unit = ''): string {
  const level = `smoothed ${fmt(e.smoothed, 2)}${unit ? ` ${unit}` : ''}`;
  switch (e.state) {
    case 'alarm':
      return `ALARM   ${e.key}: ${level}, at or above ${e.threshold}`;
    case 'warning':
      return `WARNING ${e.key}: ${level}, its trend reaches ${e.threshold} in ${duration(e.projectedMs ?? 0)}`;
    case 'ok':
      return `ok      ${e.key}: ${level}, no longer ${e.previous}`;
  }
}

function table(rows: SeriesStats[]): string[] {
  const w = Math.max(6, ...rows.map((r) => r.key.length));
  const head = `${'series'.padEnd(w)}  ${'n'.padStart(5)} ${'mean'.padStart(10)} ${'rms'.padStart(10)} ${'slope/h'.padStart(10)} ${'smoothed'.padStart(10)}  unit   notes`;
  return [
    head,
    ...rows.map((r) => {
      const notes = [
        r.wear
          ? r.wear.state + (r.wear.projectedMs !== null ? ` (threshold in ${duration(r.wear.projectedMs)})` : '')
          : '',
        r.stuck ? 'STUCK' : '',
        r.outliers ? `${r.outliers} spikes set aside` : '',
      ]
        .filter(Boolean)
        .join(', ');
      return `${r.key.padEnd(w)}  ${String(r.n).padStart(5)} ${fmt(r.mean).padStart(10)} ${fmt(r.rms).padStart(10)} ${fmt(r.slopePerHour).padStart(10)} ${fmt(r.smoothed).padStart(10)}  ${(r.unit ?? '').padEnd(6)} ${notes}`;
    }),
  ];
}

export function defineConsume(command: Command): void {
  command
    .option('-b, --brokers <list>', 'Kafka bootstrap brokers, HOST:PORT[,HOST:PORT…]')
    .option(
      '-c, --config <file>',
      "read brokers, TLS, SASL and the topic from the kafka: section of this config file (a gateway's own will do; see docs/kafka.md)",
    )
    .option('-t, --topic <topic>', "the gateways' kafka.topic (default: the file's, or sensor.readings)")
    .option(
      '-g, --group <id>',
      'consumer group (its committed offsets say where to resume; a new group starts at the beginning)',
      'sensorgate-consume',
    )
    .option('--metric <names>', 'wear metrics, comma-separated', 'vib_rms')
    .option('--threshold <level>', 'alarm level of the smoothed wear metric (7.1 mm/s: ISO 10816 zone C/D)', '7.1')
    .option('--horizon <seconds>', 'warn when the trend reaches the threshold within this much event time', '300')
    .option('--window <seconds>', 'rolling window of the statistics, in event time', '60')
    .option('--smoothing <seconds>', 'time constant of the smoothed level', '15')
    .option('--interval <seconds>', 'print the statistics this often', '5')
    .option('--json', 'JSON lines ({"type":"stats"|"wear",…}) instead of text')
    .option(
      '--log-level <level>',
      "log messages at this level and above (debug includes the Kafka client's own)",
      'warn',
    )
    .action(
      action('consume', async (opts: ConsumeCliOptions) => {
        const s = settings(opts);
        const log = createLogger(opts.logLevel);
        const analytics = new Analytics(s.analytics);
        const out = (line: string) => process.stdout.write(`${line}\n`);
        const units = new Map<string, string | undefined>();
        let skipped = 0;
        const consumer = kafkaClient(s.kafka, 'sensorgate-consume', log).consumer({
          groupId: opts.group,
          readUncommitted: false,
          maxWaitTimeInMs: 500,
        });
        consumer.on(consumer.events.CRASH, ({ payload }) =>
          log.warn({ err: payload.error.message, restart: payload.restart }, 'reading the topic failed'),
        );
        await consumer.connect();
        await consumer.subscribe({ topic: s.kafka.topic, fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message }) => {
            const r = parseReading(message.value);
            if (!r) {
              skipped++;
              return;
            }
            units.set(`${r.gateway}/${r.sensor}/${r.metric}`, r.unit);
            const e = analytics.add(r);
            if (!e) return;
            out(
              opts.json
                ? JSON.stringify({ type: 'wear', ...e })
                : `${new Date(e.ts).toISOString()}  ${describeWearEvent(e, units.get(e.key))}`,
            );
          },
        });
        const timer = setInterval(() => {
          const rows = analytics.stats();
          if (opts.json) {
            out(
              JSON.stringify({
                type: 'stats',
                ts: Date.now(),
                duplicates: analytics.duplicates,
                skipped,
                series: rows,
              }),
            );
            return;
          }
          out('');
          out(
            `${new Date().toTimeString().slice(0, 8)}  ${rows.length} series, ${analytics.duplicates} duplicates dropped, ${skipped} records not readings`,
          );
          for (const line of table(rows)) out(`  ${line}`);
        }, s.intervalMs);
        await untilSignal();
        clearInterval(timer);
        await consumer.disconnect();
        process.exit(0);
      }),
    );
}
