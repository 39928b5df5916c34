/**
 * The one module that knows how to reach Kafka: client settings (brokers, TLS, SASL, client id,
 * logging), the topics the gateway creates and their settings, and the compression codecs.
 * Every Kafka user of the project (the uplink, the heartbeat, the fleet server, `consume`, the
 * bench) builds its client here, so a codec one can write is one every other can read, and a
 * TLS or SASL setting means the same everywhere. See docs/kafka.md.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import kafkajs, { type Admin, type ITopicConfig, Kafka, logLevel, type SASLOptions } from './kafkajs.js';
import { lz4Codec } from './lz4-codec.js';

// kafkajs is CommonJS and its codec registry is not visible to ESM named imports.
const { CompressionCodecs, CompressionTypes } = kafkajs;
CompressionCodecs[CompressionTypes.LZ4] = lz4Codec();

export type KafkaConfig = Config['kafka'];

const COMPRESSION = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, lz4: CompressionTypes.LZ4 } as const;

export function compressionType(cfg: KafkaConfig): (typeof COMPRESSION)[keyof typeof COMPRESSION] {
  return COMPRESSION[cfg.compression];
}

/** Few retries inside kafkajs: our callers rebuild their clients and retry forever. */
export const CLIENT_RETRY = { retries: 2, initialRetryTime: 300, maxRetryTime: 3000 };

/**
 * TLS options: `tls` (or its older name `ssl`) true verifies against the system's CAs; the
 * object form adds a private CA, a client certificate for mutual TLS and a server name. The
 * files were checked when the config was loaded; they are read here, when the client is built.
 * Verification is never turned off (rejectUnauthorized stays Node's default, true).
 */
export function tlsOptions(cfg: KafkaConfig): ConnectionOptions | boolean {
  const tls = cfg.tls ?? cfg.ssl ?? false;
  if (typeof tls === 'boolean') return tls;
  const read = (path: string | undefined) => (path === undefined ? undefined : readFileSync(path));
  return {
    ca: read(tls.ca),
    cert: read(tls.cert),
    key: read(tls.key),
    servername: tls.servername,
    rejectUnauthorized: true,
  };
}

export function kafkaClient(cfg: KafkaConfig, defaultClientId: string, log: Logger): Kafka {
  return new Kafka({
    clientId: cfg.clientId ?? defaultClientId,
    brokers: [...cfg.brokers],
    ssl: tlsOptions(cfg),
    sasl: cfg.sasl ? ({ ...cfg.sasl } as SASLOptions) : undefined,
    connectionTimeout: 5000,
    requestTimeout: 30_000,
    retry: CLIENT_RETRY,
    logLevel: logLevel.INFO,
    // Debug only: every caller reports each failure itself, once, with what it means (the
    // forwarder per attempt, the heartbeat when it changes, the fleet feed per retry). kafkajs's
    // own lines would repeat it many times over (per broker, per internal retry, with stacks).
    logCreator:
      () =>
      ({ log: entry }) => {
        const { message, ...extra } = entry;
        log.debug({ kafkajs: extra }, message);
      },
  });
}

/** kafkajs wraps protocol errors (retries exceeded, aggregate); find the broker's verdict. */
export function brokerErrorType(err: unknown): string | undefined {
  type Wrapped = { type?: unknown; originalError?: unknown; cause?: unknown; errors?: unknown[] };
  for (let e = err as Wrapped | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.type === 'string') return e.type;
    e = (e.originalError ?? e.cause ?? e.errors?.[0]) as Wrapped | undefined;
  }
  return undefined;
}

/**
 * Settings of the compacted status topic. Segments roll every 10 minutes so the log cleaner can
 * compact them: a fleet server reading the topic at start reads about one record per gateway
 * plus the last minutes, not days of heartbeats.
 */
export const STATUS_TOPIC_CONFIG = [
  { name: 'cleanup.policy', value: 'compact' },
  { name: 'segment.ms', value: String(10 * 60_000) },
];

/**
 * What every topic the gateway creates gets:
 * - LogAppendTime: the broker stamps each record with its own clock. A gateway's clock may be
 *   wrong (a Pi has no real-time clock); with CreateTime a broker refuses records stamped more
 *   than log.message.timestamp.after.max.ms (1 h) ahead, and delivery would stop. The reading's
 *   own time is `ts` in the record's value, never the record timestamp.
 * - min.insync.replicas: acks=all means "written to this many replicas", not "to whichever
 *   replicas happen to be in sync" (on a cluster whose default is 1, a single copy).
 */
function commonTopicConfig(minIsr: number) {
  return [
    { name: 'message.timestamp.type', value: 'LogAppendTime' },
    { name: 'min.insync.replicas', value: String(minIsr) },
  ];
}

export type GatewayTopic = 'readings' | 'status' | 'offsets';

/** The replication factor topics will get: the configured one, or the brokers' default. */
async function replicationFactor(admin: Admin, cfg: KafkaConfig): Promise<number> {
  if (cfg.replicationFactor > 0) return cfg.replicationFactor;
  const { brokers } = await admin.describeCluster();
  const res = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [
      { type: 4 /* BROKER */, name: String(brokers[0]!.nodeId), configNames: ['default.replication.factor'] },
    ],
  });
  return Number(res.resources[0]?.configEntries[0]?.configValue ?? 1);
}

/**
 * Create the gateway's topics when missing: the readings topic, the compacted status topic and
 * (exactly-once) the compacted offsets topic. Topics that exist are left as their owner set them.
 */
export async function ensureTopics(
  kafka: Kafka,
  cfg: KafkaConfig,
  which: GatewayTopic[] = ['readings', 'status', 'offsets'],
): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const wanted = which.filter((w) => w !== 'offsets' || cfg.delivery === 'exactly-once');
    const name = { readings: cfg.topic, status: cfg.statusTopic, offsets: cfg.offsetsTopic };
    const missing = wanted.filter((w) => !existing.has(name[w]));
    if (missing.length === 0) return;
    const rf = await replicationFactor(admin, cfg);
    const common = commonTopicConfig(cfg.minInsyncReplicas ?? Math.min(2, rf));
    const spec: Record<GatewayTopic, ITopicConfig> = {
      readings: { topic: cfg.topic, numPartitions: cfg.partitions, configEntries: common },
      status: {
        topic: cfg.statusTopic,
        numPartitions: cfg.partitions,
        configEntries: [...STATUS_TOPIC_CONFIG, ...common],
      },
      // One partition: one ordered log answers "what was committed last".
      offsets: {
        topic: cfg.offsetsTopic,
        numPartitions: 1,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }, ...common],
      },
    };
    // The replication factor is given explicitly, so that min.insync.replicas was computed for it.
    await admin
      .createTopics({ topics: missing.map((w) => ({ ...spec[w], replicationFactor: rf })), waitForLeaders: true })
      .catch((err: Error) => {
        // Another gateway may have created it a moment ago.
        if (brokerErrorType(err) !== 'TOPIC_ALREADY_EXISTS') throw err;
      });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Partitions of a topic, as the producer's partitioner must count them. */
export async function partitionCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    return topics[0]!.partitions.length;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
