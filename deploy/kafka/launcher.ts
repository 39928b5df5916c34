/**
 * Launcher for a real single-node Apache Kafka broker (KRaft, combined broker+controller) used by
 * tests, benchmarks and `sensorgate demo`: the jars come from fetch.ts, the node's lifecycle is
 * broker.ts, its JVM is jvm.ts. A replicated cluster is cluster.ts.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, onFreePorts } from '../net.js';
import { type KafkaBroker, LocalKafkaBroker } from './broker.js';
import { KAFKA_VERSIONS, kafkaInstall, resolveKafkaVersion } from './fetch.js';
import { type ExtraListeners, serverProperties } from './properties.js';

// What tests, the bench and the demo use, importable from here.
export type { KafkaBroker } from './broker.js';
export { KAFKA_VERSIONS } from './fetch.js';

export interface StartKafkaOptions {
  /** A concrete version ("4.4.0") or an alias from KAFKA_VERSIONS ("latest", "legacy"). Default: latest. */
  version?: string;
  /** Reused as-is (formatted on first use, kept by destroy()). Default: a fresh temp dir, removed by destroy(). */
  dataDir?: string;
  /** PLAINTEXT port. Default: a free port. */
  port?: number;
  /** CONTROLLER port. Default: a free port. */
  controllerPort?: number;
  /** TLS/SASL listeners beside PLAINTEXT (see tls.ts). */
  listeners?: ExtraListeners;
  /** More arguments to `StorageTool format` on first use (e.g. --add-scram for SCRAM users). */
  formatArgs?: string[];
  log?: (msg: string) => void;
}

/** Fetch (if needed), format (if needed) and start a single-node KRaft broker; resolves once it answers. */
export async function startKafka(opts: StartKafkaOptions = {}): Promise<KafkaBroker> {
  const log = opts.log ?? (() => undefined);
  const version = resolveKafkaVersion(opts.version ?? KAFKA_VERSIONS.latest);
  const { libs, backend } = await kafkaInstall(version, log);

  const start = async (): Promise<KafkaBroker> => {
    const port = opts.port ?? (await freePort());
    let controllerPort = opts.controllerPort ?? (await freePort());
    while (controllerPort === port && opts.controllerPort === undefined) controllerPort = await freePort();
    if (controllerPort === port) throw new Error(`Kafka port and controller port must differ (both ${port})`);

    const ownsDataDir = opts.dataDir === undefined;
    const dataDir =
      opts.dataDir !== undefined
        ? resolve(opts.dataDir)
        : await mkdtemp(join(tmpdir(), `sensorgate-kafka-${version}-`));
    await mkdir(dataDir, { recursive: true });

    const broker = new LocalKafkaBroker({
      version,
      dataDir,
      libs,
      backend,
      port,
      role: 'broker',
      ownsDataDir,
      log,
      properties: serverProperties(version, dataDir, port, controllerPort, opts.listeners),
      formatArgs: opts.formatArgs,
    });
    try {
      await broker.start();
    } catch (err) {
      await broker.destroy().catch(() => undefined);
      throw err;
    }
    return broker;
  };
  // Ports given by the caller are theirs to keep free; ports we pick may be taken meanwhile.
  return opts.port !== undefined && opts.controllerPort !== undefined ? start() : onFreePorts(start, log);
}
