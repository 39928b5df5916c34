/**
 * A replicated local Kafka cluster for tests of what production clusters do: one KRaft
 * controller and three brokers on free ports, formatted with one cluster id, replication factor 3
 * and min.insync.replicas 2 by default, unclean leader election off. Helpers find a partition's
 * leader and kill (SIGKILL), terminate (SIGTERM, a controlled shutdown), restart, pause (SIGSTOP)
 * and resume one broker.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, onFreePorts } from '../net.js';
import { kafkaClusterId, LocalKafkaBroker } from './broker.js';
import { KAFKA_VERSIONS, kafkaInstall, resolveKafkaVersion } from './fetch.js';
import { brokerProperties, controllerProperties } from './properties.js';

export interface StartClusterOptions {
  /** Default: latest. */
  version?: string;
  log?: (msg: string) => void;
}

export interface KafkaCluster {
  readonly version: string;
  /** Bootstrap list: the PLAINTEXT listener of every broker. */
  readonly brokers: string[];
  /** Broker node ids, 1..3. */
  readonly nodeIds: number[];
  /** The broker with this node id (start/stop/kill/freeze/thaw act on it alone). */
  node(id: number): LocalKafkaBroker;
  /** Node id of the current leader of a partition, from the cluster's metadata (-1: none). */
  leaderOf(topic: string, partition: number): Promise<number>;
  /** The in-sync replicas of a partition. */
  isr(topic: string, partition: number): Promise<number[]>;
  kill(id: number): Promise<void>;
  terminate(id: number): Promise<void>;
  restart(id: number): Promise<void>;
  pause(id: number): void;
  resume(id: number): void;
  destroy(): Promise<void>;
}

const CONTROLLER_HEAP = '256m';
const BROKER_HEAP = '512m';
const REPLICAS = 3;
const MIN_ISR = 2;

export async function startKafkaCluster(opts: StartClusterOptions = {}): Promise<KafkaCluster> {
  const log = opts.log ?? (() => {});
  return onFreePorts(() => startOnce(opts, log), log);
}

async function startOnce(opts: StartClusterOptions, log: (msg: string) => void): Promise<KafkaCluster> {
  const version = resolveKafkaVersion(opts.version ?? KAFKA_VERSIONS.latest);
  const { libs, backend } = await kafkaInstall(version, log);
  const root = await mkdtemp(join(tmpdir(), `sensorgate-kafka-cluster-${version}-`));
  const clusterId = kafkaClusterId();
  const controllerPort = await freePort();
  const node = async (
    name: string,
    role: 'broker' | 'controller',
    port: number,
    properties: (dir: string) => string,
    heap: string,
  ) => {
    const dataDir = join(root, name);
    await mkdir(dataDir, { recursive: true });
    return new LocalKafkaBroker({
      version,
      dataDir,
      libs,
      backend,
      port,
      role,
      clusterId,
      heap,
      ownsDataDir: false,
      log: (m) => log(`${name}: ${m}`),
      properties: properties(dataDir),
    });
  };
  const controller = await node(
    'controller',
    'controller',
    controllerPort,
    (dir) => controllerProperties(dir, controllerPort, REPLICAS, MIN_ISR),
    CONTROLLER_HEAP,
  );
  const nodeIds = [1, 2, 3];
  const brokers = new Map<number, LocalKafkaBroker>();
  for (const id of nodeIds) {
    const port = await freePort();
    brokers.set(
      id,
      await node(
        `broker-${id}`,
        'broker',
        port,
        (dir) => brokerProperties(version, id, dir, port, controllerPort, REPLICAS, MIN_ISR),
        BROKER_HEAP,
      ),
    );
  }
  const all = [controller, ...brokers.values()];
  const destroy = async () => {
    await Promise.all(all.map((n) => n.destroy().catch(() => undefined)));
    await rm(root, { recursive: true, force: true });
  };
  try {
    await controller.start();
    await Promise.all([...brokers.values()].map((b) => b.start()));
  } catch (err) {
    await destroy();
    throw err;
  }
  const bootstrap = [...brokers.values()].map((b) => b.brokers[0]!);
  const get = (id: number) => {
    const b = brokers.get(id);
    if (!b) throw new Error(`no broker with node id ${id} (they are ${nodeIds.join(', ')})`);
    return b;
  };
  const partitionMeta = async (topic: string, partition: number) => {
    // Loaded here, not at the top: a process that runs a gateway too (the tests, `demo`) must let the
    // gateway load kafkajs first, with the fixes it installs before kafkajs loads.
    const { Kafka, logLevel } = await import('kafkajs');
    const admin = new Kafka({
      clientId: 'sensorgate-kafka-cluster',
      brokers: bootstrap,
      logLevel: logLevel.NOTHING,
      retry: { retries: 3 },
    }).admin();
    try {
      await admin.connect();
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const p = topics[0]?.partitions.find((x) => x.partitionId === partition);
      if (!p) throw new Error(`${topic} has no partition ${partition}`);
      return p;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  };
  return {
    version,
    brokers: bootstrap,
    nodeIds,
    node: get,
    leaderOf: async (topic, partition) => (await partitionMeta(topic, partition)).leader,
    isr: async (topic, partition) => (await partitionMeta(topic, partition)).isr,
    kill: (id) => get(id).kill(),
    terminate: (id) => get(id).stop(),
    restart: (id) => get(id).start(),
    pause: (id) => get(id).freeze(),
    resume: (id) => get(id).thaw(),
    destroy,
  };
}
