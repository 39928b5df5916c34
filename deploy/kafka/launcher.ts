/**
 * Launcher for a real single-node Apache Kafka broker (KRaft, combined
 * broker+controller) used by tests, benchmarks and `sensorgate demo`.
 *
 * Kafka jars are resolved with Maven into a per-user cache directory
 * (never inside the repository), so the only host requirements are a JDK 17+
 * (`java`, or $JAVA_HOME/bin/java) and `mvn` for the first fetch.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { freePort, waitForTcp } from '../net.js';
import { type ExtraListeners, majorOf, propEscape, serverProperties } from './properties.js';

export const KAFKA_VERSIONS = { latest: '4.4.0', legacy: '3.9.2' } as const;

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

const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 20_000;
const COMPLETE_MARKER = '.sensorgate-complete.json';
const LOG4J2_VERSION = '2.24.3';
const SLF4J1_VERSION = '1.7.36';

export type LoggingBackend = 'log4j2' | 'reload4j';

interface FetchMarker {
  version: string;
  logging: LoggingBackend;
  jars: string[];
  fetchedAt: string;
}

const noop = (): void => {};

/** Map "latest"/"legacy" to a concrete version and validate the result. */
export function resolveKafkaVersion(version: string): string {
  const v = (KAFKA_VERSIONS as Record<string, string>)[version] ?? version;
  if (!/^\d+\.\d+\.\d+(?:-[A-Za-z0-9.]+)?$/.test(v)) {
    throw new Error(
      `invalid Kafka version ${JSON.stringify(version)} (expected e.g. ${KAFKA_VERSIONS.latest}, "latest" or "legacy")`,
    );
  }
  return v;
}

function backendFor(version: string): LoggingBackend {
  return majorOf(version) >= 4 ? 'log4j2' : 'reload4j';
}

/** Nearest ancestor of this module that holds a package.json (the repo / package root), if any. */
function packageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** `${SENSORGATE_CACHE ?? XDG_CACHE_HOME ?? ~/.cache}/sensorgate/kafka/<version>`; refuses paths inside the repo. */
export function kafkaCacheDir(version: string): string {
  const v = resolveKafkaVersion(version);
  const env = (name: string): string | undefined => {
    const val = process.env[name];
    return val !== undefined && val.trim() !== '' ? val : undefined;
  };
  const base = resolve(env('SENSORGATE_CACHE') ?? env('XDG_CACHE_HOME') ?? join(homedir(), '.cache'));
  const dir = join(base, 'sensorgate', 'kafka', v);
  const root = packageRoot();
  if (root !== undefined && isInside(dir, root)) {
    throw new Error(
      `Kafka cache dir ${dir} is inside the repository (${root}); point SENSORGATE_CACHE or XDG_CACHE_HOME somewhere else`,
    );
  }
  return dir;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function pomXml(version: string, backend: LoggingBackend, slf4jApiVersion: string): string {
  const dep = (g: string, a: string, v: string): string =>
    `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  const deps = [dep('org.apache.kafka', 'kafka_2.13', version)];
  if (backend === 'log4j2') {
    const binding = majorOf(slf4jApiVersion) >= 2 ? 'log4j-slf4j2-impl' : 'log4j-slf4j-impl';
    deps.push(dep('org.apache.logging.log4j', binding, LOG4J2_VERSION));
    deps.push(dep('org.apache.logging.log4j', 'log4j-core', LOG4J2_VERSION));
  } else {
    deps.push(dep('org.slf4j', 'slf4j-reload4j', slf4jApiVersion));
  }
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by sensorgate deploy/kafka/launcher.ts: resolves the Kafka ${version} broker classpath. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>sensorgate.local</groupId>
  <artifactId>kafka-broker-classpath</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>
${deps.join('\n')}
  </dependencies>
</project>
`;
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Run a command to completion, capturing combined stdout+stderr (last 64 KiB). */
function run(cmd: string, args: string[], opts: SpawnOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (b: Buffer): void => {
      output += b.toString('utf8');
      if (output.length > 65_536) output = output.slice(-65_536);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new Error(`${cmd} not found on PATH (${err.message})`) : err);
    });
    child.once('close', (code, signal) => resolvePromise({ code, signal, output }));
  });
}

function tailLines(text: string, maxLines: number): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  return lines.slice(-maxLines).join('\n');
}

async function readMarker(libs: string): Promise<FetchMarker | undefined> {
  try {
    return JSON.parse(await readFile(join(libs, COMPLETE_MARKER), 'utf8')) as FetchMarker;
  } catch {
    return undefined;
  }
}

/**
 * Resolve the broker jars for `version` into `kafkaCacheDir(version)/libs` and return that dir.
 * Idempotent: a complete download carries a marker file and is reused. The libs dir is
 * assembled in a temp dir and renamed into place, so concurrent fetches are safe.
 */
export async function fetchKafka(version: string, log: (msg: string) => void = noop): Promise<string> {
  const v = resolveKafkaVersion(version);
  const dir = kafkaCacheDir(v);
  const libs = join(dir, 'libs');
  if (await readMarker(libs)) return libs;

  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(dir, '.fetch-'));
  try {
    const backend = backendFor(v);
    const out = join(work, 'libs');
    const pom = join(work, 'pom.xml');
    let slf4jApi = SLF4J1_VERSION;
    let jars: string[] = [];
    const started = Date.now();
    log(`fetching Kafka ${v} jars with Maven into ${libs}`);
    // Two passes at most: if the broker's slf4j-api is not the one our logging binding
    // was chosen for, re-resolve with the matching binding.
    for (let pass = 0; pass < 2; pass++) {
      await rm(out, { recursive: true, force: true });
      await writeFile(pom, pomXml(v, backend, slf4jApi));
      const res = await run('mvn', [
        '-q',
        '-B',
        '-Dstyle.color=never',
        '-f',
        pom,
        'dependency:copy-dependencies',
        `-DoutputDirectory=${out}`,
        '-DincludeScope=runtime',
      ]);
      if (res.code !== 0) {
        throw new Error(
          `mvn dependency:copy-dependencies for Kafka ${v} failed (exit ${res.code ?? res.signal}):\n${tailLines(res.output, 40)}`,
        );
      }
      jars = (await readdir(out)).filter((f) => f.endsWith('.jar')).sort();
      if (!jars.includes(`kafka_2.13-${v}.jar`)) {
        throw new Error(`Maven did not produce kafka_2.13-${v}.jar in ${out} (got: ${jars.join(', ')})`);
      }
      const api = jars.map((j) => /^slf4j-api-(.+)\.jar$/.exec(j)?.[1]).find((x) => x !== undefined);
      if (api === undefined) throw new Error(`no slf4j-api jar resolved for Kafka ${v} (got: ${jars.join(', ')})`);
      // Bindings are compatible within slf4j 1.7.x and within 2.x (slf4j-reload4j exists only from 1.7.33).
      const series = (x: string): string => (majorOf(x) >= 2 ? '2' : x.split('.').slice(0, 2).join('.'));
      const mismatch = series(api) !== series(slf4jApi);
      if (!mismatch) break;
      if (pass === 1) throw new Error(`could not match an slf4j binding to slf4j-api ${api} for Kafka ${v}`);
      log(`Kafka ${v} uses slf4j-api ${api}; re-resolving with a matching logging binding`);
      slf4jApi = api;
    }
    const want = backend === 'log4j2' ? ['log4j-core-', 'log4j-slf4j'] : ['slf4j-reload4j-', 'reload4j-'];
    for (const prefix of want) {
      if (!jars.some((j) => j.startsWith(prefix))) {
        throw new Error(`logging backend jar ${prefix}* missing for Kafka ${v} (got: ${jars.join(', ')})`);
      }
    }
    const marker: FetchMarker = { version: v, logging: backend, jars, fetchedAt: new Date().toISOString() };
    await writeFile(join(out, COMPLETE_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
    await writeFile(join(dir, 'pom.xml'), await readFile(pom, 'utf8'));
    try {
      await rename(out, libs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      if (!(await readMarker(libs))) {
        // An incomplete libs dir from some older/foreign process: replace it.
        await rm(libs, { recursive: true, force: true });
        await rename(out, libs);
      } // else: a concurrent fetch won the race; its result is equivalent.
    }
    log(`fetched Kafka ${v} (${jars.length} jars, ${backend}) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return libs;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// JVM process management

const liveJvms = new Set<ChildProcess>();
let exitHookInstalled = false;

/** The JVM must not outlive this Node process. */
function track(child: ChildProcess): void {
  liveJvms.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of liveJvms) {
        try {
          c.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    });
  }
}

/**
 * On Linux, wrap with `setpriv --pdeathsig KILL` so the JVM also dies when Node is killed
 * by a signal (where 'exit' handlers do not run). setpriv execs, so the pid is the JVM's.
 */
const SETPRIV = process.platform === 'linux' && existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;

function javaCommand(): string {
  const home = process.env.JAVA_HOME;
  return home !== undefined && home !== '' ? join(home, 'bin', 'java') : 'java';
}

function spawnJava(args: string[], opts: SpawnOptions): ChildProcess {
  const java = javaCommand();
  // With setpriv the JVM dies with us, so it can have its own process group: Ctrl-C in a terminal
  // (SIGINT to the foreground group) then reaches only us, and we stop the broker in order.
  return SETPRIV !== undefined
    ? spawn(SETPRIV, ['--pdeathsig', 'KILL', java, ...args], { ...opts, detached: true })
    : spawn(java, args, opts);
}

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

function log4j2Xml(logFile: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <File name="file" fileName="${xmlEscape(logFile)}" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Root level="WARN"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
`;
}

function log4jProperties(logFile: string): string {
  return [
    'log4j.rootLogger=WARN, file',
    'log4j.appender.file=org.apache.log4j.FileAppender',
    `log4j.appender.file.File=${propEscape(logFile)}`,
    'log4j.appender.file.Append=true',
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    '',
  ].join('\n');
}

async function fileTail(path: string, maxBytes = 8192, maxLines = 40): Promise<string> {
  try {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, maxBytes);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return tailLines(buf.toString('utf8'), maxLines);
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Jvm {
  child: ChildProcess;
  exited: Promise<void>;
  hasExited: boolean;
  exitDesc: string;
  expectedExit: boolean;
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

export class LocalKafkaBroker implements KafkaBroker {
  readonly brokers: string[];
  readonly version: string;
  readonly dataDir: string;
  readonly port: number;
  private jvm: Jvm | undefined;
  private clusterId: string | undefined;
  private starting: Promise<void> | undefined;
  private destroyed = false;
  private readonly libs: string;
  private readonly backend: LoggingBackend;
  private readonly ownsDataDir: boolean;
  private readonly log: (msg: string) => void;
  private readonly serverProps: string;
  private readonly logFile: string;
  private readonly consoleFile: string;
  private readonly logOpts: string[];

  constructor(private readonly spec: NodeSpec) {
    ({
      version: this.version,
      dataDir: this.dataDir,
      libs: this.libs,
      backend: this.backend,
      port: this.port,
      ownsDataDir: this.ownsDataDir,
      log: this.log,
    } = spec);
    const { dataDir, backend } = spec;
    this.brokers = [`127.0.0.1:${spec.port}`];
    this.serverProps = join(dataDir, 'server.properties');
    this.logFile = join(dataDir, 'kafka.log');
    this.consoleFile = join(dataDir, 'kafka-console.log');
    this.logOpts =
      backend === 'log4j2'
        ? [`-Dlog4j2.configurationFile=${join(dataDir, 'log4j2.xml')}`]
        : [`-Dlog4j.configuration=file:${join(dataDir, 'log4j.properties')}`];
  }

  /** The JVM's pid while it runs. */
  get pid(): number | undefined {
    return this.jvm && !this.jvm.hasExited ? this.jvm.child.pid : undefined;
  }

  private get classpath(): string {
    return `${this.libs}/*`;
  }

  /** Write configs; format storage on first use of the data dir. */
  async prepare(): Promise<void> {
    await mkdir(join(this.dataDir, 'log'), { recursive: true });
    await writeFile(this.serverProps, this.spec.properties);
    if (this.backend === 'log4j2') await writeFile(join(this.dataDir, 'log4j2.xml'), log4j2Xml(this.logFile));
    else await writeFile(join(this.dataDir, 'log4j.properties'), log4jProperties(this.logFile));
    const metaFile = join(this.dataDir, 'log', 'meta.properties');
    if (existsSync(metaFile)) {
      this.clusterId = /^cluster\.id=(.+)$/m.exec(await readFile(metaFile, 'utf8'))?.[1]?.trim();
      return;
    }

    const clusterId = this.spec.clusterId ?? kafkaClusterId();
    const t0 = Date.now();
    const res = await new Promise<RunResult>((resolvePromise, reject) => {
      const child = spawnJava(
        [
          '-Xmx256m',
          '-XX:+UseSerialGC',
          ...this.logOpts,
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
        { cwd: this.dataDir, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      track(child);
      let output = '';
      const collect = (b: Buffer): void => {
        output += b.toString('utf8');
      };
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      child.once('error', (err) => {
        liveJvms.delete(child);
        reject(new Error(`could not run ${javaCommand()}: ${err.message}`));
      });
      child.once('close', (code, signal) => {
        liveJvms.delete(child);
        resolvePromise({ code, signal, output });
      });
    });
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
    const fd = openSync(this.consoleFile, 'a');
    let child: ChildProcess;
    try {
      child = spawnJava(
        [
          '-Xms128m',
          `-Xmx${this.spec.heap ?? '512m'}`,
          '-XX:+UseSerialGC',
          '-XX:+ExitOnOutOfMemoryError',
          '-Djava.awt.headless=true',
          ...this.logOpts,
          '-cp',
          this.classpath,
          'kafka.Kafka',
          this.serverProps,
        ],
        { cwd: this.dataDir, stdio: ['ignore', fd, fd] },
      );
    } finally {
      closeSync(fd);
    }
    track(child);
    let ready = false;
    const jvm: Jvm = { child, exited: Promise.resolve(), hasExited: false, exitDesc: '', expectedExit: false };
    jvm.exited = new Promise<void>((resolveExit) => {
      const done = (desc: string): void => {
        if (jvm.hasExited) return;
        jvm.hasExited = true;
        jvm.exitDesc = desc;
        liveJvms.delete(child);
        if (!jvm.expectedExit && ready) {
          this.log(`Kafka ${this.version} on ${this.brokers[0]} exited unexpectedly (${desc}); see ${this.logFile}`);
        }
        resolveExit();
      };
      child.once('exit', (code, signal) => done(signal ? `signal ${signal}` : `exit code ${code}`));
      child.once('error', (err) => done(`spawn error: ${err.message}`));
    });
    this.jvm = jvm;

    try {
      await this.waitReady(jvm, t0 + READY_TIMEOUT_MS);
      ready = true;
    } catch (err) {
      jvm.expectedExit = true;
      if (!jvm.hasExited) {
        child.kill('SIGKILL');
        await jvm.exited;
      }
      const [kafkaLog, consoleLog] = await Promise.all([fileTail(this.logFile), fileTail(this.consoleFile)]);
      throw new Error(
        `${(err as Error).message}\n--- ${this.logFile} (tail) ---\n${kafkaLog || '(empty)'}\n--- ${this.consoleFile} (tail) ---\n${consoleLog || '(empty)'}`,
      );
    }
    this.log(
      `Kafka ${this.version} ready on ${this.brokers[0]} (pid ${child.pid}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
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
        await admin.disconnect().catch(noop);
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
    await this.starting?.catch(noop);
    const jvm = this.jvm;
    if (!jvm || jvm.hasExited) return;
    jvm.expectedExit = true;
    const t0 = Date.now();
    jvm.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      this.log(`Kafka ${this.version} did not stop within ${STOP_GRACE_MS / 1000} s; sending SIGKILL`);
      jvm.child.kill('SIGKILL');
    }, STOP_GRACE_MS);
    try {
      await jvm.exited;
    } finally {
      clearTimeout(timer);
    }
    this.log(`Kafka ${this.version} stopped (${jvm.exitDesc}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }

  async kill(): Promise<void> {
    await this.starting?.catch(noop);
    const jvm = this.jvm;
    if (!jvm || jvm.hasExited) return;
    jvm.expectedExit = true;
    jvm.child.kill('SIGKILL');
    await jvm.exited;
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
    if (this.ownsDataDir) await rm(this.dataDir, { recursive: true, force: true });
  }
}

/** The jars and logging backend of a version, fetched if needed. */
export async function kafkaInstall(
  version: string,
  log: (msg: string) => void,
): Promise<{ libs: string; backend: LoggingBackend }> {
  const libs = await fetchKafka(version, log);
  return { libs, backend: (await readMarker(libs))?.logging ?? backendFor(version) };
}

/** Fetch (if needed), format (if needed) and start a single-node KRaft broker; resolves once it answers. */
export async function startKafka(opts: StartKafkaOptions = {}): Promise<KafkaBroker> {
  const log = opts.log ?? noop;
  const version = resolveKafkaVersion(opts.version ?? KAFKA_VERSIONS.latest);
  const { libs, backend } = await kafkaInstall(version, log);

  const port = opts.port ?? (await freePort());
  let controllerPort = opts.controllerPort ?? (await freePort());
  while (controllerPort === port && opts.controllerPort === undefined) controllerPort = await freePort();
  if (controllerPort === port) throw new Error(`Kafka port and controller port must differ (both ${port})`);

  const ownsDataDir = opts.dataDir === undefined;
  const dataDir =
    opts.dataDir !== undefined ? resolve(opts.dataDir) : await mkdtemp(join(tmpdir(), `sensorgate-kafka-${version}-`));
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
    await broker.destroy().catch(noop);
    throw err;
  }
  return broker;
}
