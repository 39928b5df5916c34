/**
 * The real components the bench runs beside the gateway: one Kafka broker and one mosquitto,
 * shared by every pipeline so that the ratios compare like with like. Both are stopped by the
 * caller through the returned stop().
 */
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { KAFKA_VERSIONS, startKafka } from '../../deploy/kafka/launcher.js';
import { freePort, waitForTcp } from '../../deploy/net.js';
import { configSchema } from '../config/config.js';
import { kafkaClient } from '../uplink/kafka-client.js';
import { runTool, spawnTracked, stopChild } from './proc.js';

export interface BenchKafka {
  brokers: string[];
  /** The broker version, or "external" for $KAFKA_BROKERS. */
  version: string;
  /** Stop the broker and start it again with the same data and port (an outage); only our own broker. */
  outage?: { down(): Promise<void>; up(): Promise<void> };
  stop(): Promise<void>;
}

/** $KAFKA_BROKERS when set (someone else's broker: left running), else a fresh local broker. */
export async function startBenchKafka(log: (msg: string) => void): Promise<BenchKafka> {
  const external = process.env.KAFKA_BROKERS?.split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (external?.length) return { brokers: external, version: 'external', stop: async () => undefined };
  const kafka = await startKafka({ version: KAFKA_VERSIONS.latest, log });
  return {
    brokers: kafka.brokers,
    version: kafka.version,
    outage: { down: () => kafka.stop(), up: () => kafka.start() },
    stop: () => kafka.destroy(),
  };
}

export interface BenchMosquitto {
  url: string;
  host: string;
  port: number;
  pid: number;
  version: string;
  stop(): Promise<void>;
}

/**
 * A mosquitto that is not the bottleneck and loses nothing: unbounded queues (the naive bridge
 * falls far behind a burst), an in-flight window bounded only by each subscriber's own MQTT 5
 * Receive Maximum, no message size limit.
 */
export async function startBenchMosquitto(dir: string): Promise<BenchMosquitto> {
  const host = '127.0.0.1';
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  await writeFile(
    conf,
    [
      '# Written by the sensorgate bench (gateway/bench/peers.ts).',
      `listener ${port} ${host}`,
      'allow_anonymous true',
      'persistence false',
      'max_queued_messages 0',
      'max_queued_bytes 0',
      'max_inflight_messages 65535',
      'message_size_limit 0',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'),
  );
  const logFile = createWriteStream(join(dir, 'mosquitto.log'));
  const child = spawnTracked('mosquitto', ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(logFile);
  child.stderr!.pipe(logFile);
  let failed: Error | undefined;
  child.once('error', (err) => {
    failed = new Error(`mosquitto: ${err.message}`);
  });
  child.once('exit', (code, signal) => {
    failed ??= new Error(`mosquitto exited (${signal ?? code}) before it listened; see ${join(dir, 'mosquitto.log')}`);
  });
  await waitForTcp(port, host, 10_000, () => failed);
  const version = /mosquitto version (\S+)/.exec(runTool('mosquitto', ['-h']))?.[1] ?? 'unknown';
  return {
    url: `mqtt://${host}:${port}`,
    host,
    port,
    pid: child.pid!,
    version,
    stop: async () => {
      await stopChild(child, 5000);
    },
  };
}

/**
 * Create a persistent MQTT session with its subscriptions before its owner (the gateway) first
 * connects, so that nothing published in the meantime is lost: the broker queues it for the
 * session, exactly as it does while a gateway restarts.
 */
export async function prepareSession(url: string, clientId: string, topics: string[], qos: 1 | 2 = 1): Promise<void> {
  const client = await mqtt.connectAsync(url, {
    clientId,
    clean: false,
    protocolVersion: 5,
    reconnectPeriod: 0,
    properties: { sessionExpiryInterval: 0xffffffff },
  });
  try {
    await client.subscribeAsync(topics, { qos });
  } finally {
    await client.endAsync();
  }
}

/** The bench's view of Kafka: create measurement topics, count what arrived. */
/** A client for the bench's own producers and probes, set up as the gateway's are (codecs included). */
export function benchKafka(brokers: string[], clientId: string): Kafka {
  return kafkaClient(configSchema.shape.kafka.parse({ brokers }), clientId, pino({ level: 'silent' }));
}

export class KafkaProbe {
  private readonly admin: Admin;
  /** Deleted again by close(): $KAFKA_BROKERS may be someone's long-lived broker. */
  private readonly topics = new Set<string>();

  private constructor(admin: Admin) {
    this.admin = admin;
  }

  static async connect(brokers: string[]): Promise<KafkaProbe> {
    const admin = benchKafka(brokers, 'sensorgate-bench').admin();
    await admin.connect();
    return new KafkaProbe(admin);
  }

  /**
   * Every pipeline writes to a fresh topic of the same shape. The broker stamps each batch with
   * its log-append time, which is what latency is measured against.
   */
  async createTopic(topic: string, partitions = 3): Promise<void> {
    this.topics.add(topic);
    const created = await this.admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: partitions,
          configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }],
        },
      ],
    });
    if (!created) throw new Error(`Kafka topic ${topic} exists already: a measurement needs a fresh topic`);
  }

  /** A topic someone else (the gateway) creates for the bench, to be deleted at the end. */
  adopt(topic: string): void {
    this.topics.add(topic);
  }

  /** Records in the topic (sum of the partitions' end offsets; the topics are fresh). */
  async total(topic: string): Promise<number> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, p) => n + Number(p.high), 0);
  }

  async close(): Promise<void> {
    try {
      const existing = new Set(await this.admin.listTopics());
      const ours = [...this.topics].filter((t) => existing.has(t));
      if (ours.length) await this.admin.deleteTopics({ topics: ours });
    } finally {
      await this.admin.disconnect();
    }
  }
}
