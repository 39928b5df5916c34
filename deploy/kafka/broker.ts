/**
 * One local Kafka node's lifecycle: write its configuration, format its storage on first use,
 * start its JVM and wait until it answers (and is ours), stop, kill, freeze, thaw, destroy. A
 * single broker (launcher.ts) or one node of a cluster (cluster.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitForTcp } from '../net.js';
import { fileTail, type Jvm, killJvm, runJava, startJvm, stopJvm, tailLines } from './jvm.js';
import { type LoggingBackend, loggingConfig } from './properties.js';

export interface KafkaBroker {
  readonly version: string;
  /** `["127.0.0.1:PORT"]`, the PLAINTEXT listener. */
  readonly brokers: string[];
  readonly dataDir: string;
  /** (Re)start the JVM with the same ports and data. No-op if already running. */
  start(): Promise<void>;
  /** SIGTERM (controlled shutdown), wait for exit; SIGKILL after 20 s. */
  stop(): Promise<void>;
  /** SIGKILL, wait for exit. */
  kill(): Promise<void>;
  /** SIGSTOP: connections stay open and nothing answers (a hung broker or a black-holed link). */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
  /** stop() and remove the data dir if startKafka created it. */
  destroy(): Promise<void>;
}

/** What a node of ours is: its configuration, how it is formatted, how to tell it is ready. */
export interface NodeSpec {
  version: string;
  dataDir: string;
  libs: string;
  backend: LoggingBackend;
  /** PLAINTEXT client port, or (controller-only node) the controller port, polled until it accepts. */
  port: number;
  /** A broker (answers Kafka clients) or a controller (only opens its port). */
  role: 'broker' | 'controller';
  properties: string;
  /** The cluster id to format with; default a fresh one. Nodes of one cluster share it. */
  clusterId?: string;
  /** More arguments to `StorageTool format` (e.g. --add-scram). */
  formatArgs?: string[];
  /** Heap of the JVM (-Xmx). */
  heap?: string;
  ownsDataDir: boolean;
  log: (msg: string) => void;
}

const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 20_000;

/** A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (what StorageTool random-uuid prints). */
export function kafkaClusterId(): string {
  for (;;) {
    const b = randomBytes(16);
    b[6] = (b[6]! & 0x0f) | 0x40; // RFC 4122 v4, like java.util.UUID.randomUUID()
    b[8] = (b[8]! & 0x3f) | 0x80;
    const id = b.toString('base64url');
    if (!id.startsWith('-')) return id; // Kafka's Uuid.randomUuid() avoids a leading '-'
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class LocalKafkaBroker implements KafkaBroker {
  readonly brokers: string[];
  readonly version: string;
  readonly dataDir: string;
  readonly port: number;
  private jvm: Jvm | undefined;
  private clusterId: string | undefined;
  private starting: Promise<void> | undefined;
  private destroyed = false;
  private readonly serverProps: string;
  private readonly logFile: string;
  private readonly consoleFile: string;
  private readonly logging: ReturnType<typeof loggingConfig>;
  private readonly log: (msg: string) => void;

  constructor(private readonly spec: NodeSpec) {
    ({ version: this.version, dataDir: this.dataDir, port: this.port, log: this.log } = spec);
    this.brokers = [`127.0.0.1:${spec.port}`];
    this.serverProps = join(spec.dataDir, 'server.properties');
    this.logFile = join(spec.dataDir, 'kafka.log');
    this.consoleFile = join(spec.dataDir, 'kafka-console.log');
    this.logging = loggingConfig(spec.backend, spec.dataDir, this.logFile);
  }

  /** The JVM's pid while it runs. */
  get pid(): number | undefined {
    return this.jvm && !this.jvm.hasExited ? this.jvm.child.pid : undefined;
  }

  private get classpath(): string {
    return `${this.spec.libs}/*`;
  }

  /** Write configs; format storage on first use of the data dir. */
  async prepare(): Promise<void> {
    await mkdir(join(this.dataDir, 'log'), { recursive: true });
    await writeFile(this.serverProps, this.spec.properties);
    await writeFile(this.logging.path, this.logging.text);
    const metaFile = join(this.dataDir, 'log', 'meta.properties');
    if (existsSync(metaFile)) {
      this.clusterId = /^cluster\.id=(.+)$/m.exec(await readFile(metaFile, 'utf8'))?.[1]?.trim();
      return;
    }
    await this.format(this.spec.clusterId ?? kafkaClusterId());
  }

  private async format(clusterId: string): Promise<void> {
    const t0 = Date.now();
    const res = await runJava(
      [
        '-Xmx256m',
        '-XX:+UseSerialGC',
        this.logging.jvmOption,
        '-cp',
        this.classpath,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId,
        '-c',
        this.serverProps,
        ...(this.spec.formatArgs ?? []),
      ],
      this.dataDir,
    );
    if (res.code !== 0) {
      throw new Error(
        `kafka.tools.StorageTool format failed (exit ${res.code ?? res.signal}):\n${tailLines(res.output, 30)}\n${await fileTail(this.logFile)}`,
      );
    }
    this.clusterId = clusterId;
    this.log(
      `formatted Kafka ${this.version} storage in ${this.dataDir} (cluster id ${clusterId}, ${Date.now() - t0} ms)`,
    );
  }

  start(): Promise<void> {
    if (this.destroyed) return Promise.reject(new Error('Kafka broker was destroyed'));
    if (this.starting) return this.starting;
    if (this.jvm && !this.jvm.hasExited) return Promise.resolve();
    this.starting = this.launch().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async launch(): Promise<void> {
    const t0 = Date.now();
    await this.prepare();
    let ready = false;
    const jvm = startJvm(
      [
        '-Xms128m',
        `-Xmx${this.spec.heap ?? '512m'}`,
        '-XX:+UseSerialGC',
        '-XX:+ExitOnOutOfMemoryError',
        '-Djava.awt.headless=true',
        this.logging.jvmOption,
        '-cp',
        this.classpath,
        'kafka.Kafka',
        this.serverProps,
      ],
      this.dataDir,
      this.consoleFile,
      (ended) => {
        if (!ended.expectedExit && ready) {
          this.log(
            `Kafka ${this.version} on ${this.brokers[0]} exited unexpectedly (${ended.exitDesc}); see ${this.logFile}`,
          );
        }
      },
    );
    this.jvm = jvm;

    try {
      await this.waitReady(jvm, t0 + READY_TIMEOUT_MS);
      ready = true;
    } catch (err) {
      await killJvm(jvm);
      const [kafkaLog, consoleLog] = await Promise.all([fileTail(this.logFile), fileTail(this.consoleFile)]);
      throw new Error(
        `${(err as Error).message}\n--- ${this.logFile} (tail) ---\n${kafkaLog || '(empty)'}\n--- ${this.consoleFile} (tail) ---\n${consoleLog || '(empty)'}`,
      );
    }
    this.log(
      `Kafka ${this.version} ready on ${this.brokers[0]} (pid ${jvm.child.pid}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
  }

  private async waitReady(jvm: Jvm, deadline: number): Promise<void> {
    if (this.spec.role === 'controller') {
      const exited = () =>
        jvm.hasExited
          ? new Error(`Kafka ${this.version} controller exited before becoming ready (${jvm.exitDesc})`)
          : undefined;
      return waitForTcp(this.port, '127.0.0.1', deadline - Date.now(), exited);
    }
    // Loaded here, not at the top: a process that runs a gateway too (the tests, `demo`) must let the
    // gateway load kafkajs first, with the fixes it installs before kafkajs loads.
    const { Kafka, logLevel } = await import('kafkajs');
    const kafka = new Kafka({
      clientId: 'sensorgate-kafka-launcher',
      brokers: this.brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: 1000,
      requestTimeout: 5000,
      retry: { retries: 0 },
    });
    let foreign = '';
    const exitedError = (): Error =>
      new Error(`Kafka ${this.version} JVM exited before becoming ready (${jvm.exitDesc})${foreign}`);
    for (;;) {
      if (jvm.hasExited) throw exitedError();
      const admin = kafka.admin({ retry: { retries: 0 } });
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        // Make sure it is *our* broker answering, not some other Kafka already on this port.
        if (this.clusterId === undefined || cluster.clusterId === this.clusterId) {
          if (cluster.brokers.length > 0) return;
        } else {
          foreign = `; ${this.brokers[0]} is answered by another Kafka (cluster id ${cluster.clusterId}, ours is ${this.clusterId})`;
        }
      } catch {
        /* not ready yet */
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
      if (jvm.hasExited) throw exitedError();
      if (Date.now() > deadline) {
        throw new Error(
          `Kafka ${this.version} on ${this.brokers[0]} not ready after ${READY_TIMEOUT_MS / 1000} s${foreign}`,
        );
      }
      await sleep(250);
    }
  }

  async stop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    const jvm = this.jvm;
    if (!jvm || jvm.hasExited) return;
    const t0 = Date.now();
    await stopJvm(jvm, STOP_GRACE_MS, () =>
      this.log(`Kafka ${this.version} did not stop within ${STOP_GRACE_MS / 1000} s; sending SIGKILL`),
    );
    this.log(`Kafka ${this.version} stopped (${jvm.exitDesc}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }

  async kill(): Promise<void> {
    await this.starting?.catch(() => undefined);
    const jvm = this.jvm;
    if (!jvm || jvm.hasExited) return;
    await killJvm(jvm);
    this.log(`Kafka ${this.version} killed`);
  }

  freeze(): void {
    this.jvm?.child.kill('SIGSTOP');
  }

  thaw(): void {
    this.jvm?.child.kill('SIGCONT');
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.stop();
    if (this.spec.ownsDataDir) await rm(this.dataDir, { recursive: true, force: true });
  }
}
