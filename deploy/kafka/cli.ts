#!/usr/bin/env node
/**
 * node dist/deploy/kafka/cli.js fetch [VERSION...]
 *     Prefetch broker jars into the cache (default: all of KAFKA_VERSIONS).
 * node dist/deploy/kafka/cli.js start [--version V] [--port P] [--controller-port P] [--data-dir DIR]
 *     Start a single-node KRaft broker, print KAFKA_BROKERS=127.0.0.1:PORT on stdout and keep
 *     running until SIGINT/SIGTERM (then stop it; a temp data dir is removed).
 * node dist/deploy/kafka/cli.js start --cluster [--version V]
 *     The same with a replicated cluster (a KRaft controller and three brokers, RF 3, min ISR 2).
 *
 * VERSION may be a concrete version or "latest" / "legacy". Progress goes to stderr.
 */
import { startKafkaCluster } from './cluster.js';
import { fetchKafka, KAFKA_VERSIONS, kafkaCacheDir } from './fetch.js';
import { startKafka } from './launcher.js';

const USAGE = `usage:
  cli.js fetch [VERSION...]            prefetch Kafka jars (default: ${Object.values(KAFKA_VERSIONS).join(' ')})
  cli.js start [--version V] [--port P] [--controller-port P] [--data-dir DIR]
  cli.js start --cluster [--version V]  a controller and three brokers (replication factor 3, min ISR 2)
VERSION: x.y.z, "latest" (${KAFKA_VERSIONS.latest}) or "legacy" (${KAFKA_VERSIONS.legacy})`;

const log = (msg: string): void => {
  process.stderr.write(`[kafka] ${msg}\n`);
};

class UsageError extends Error {}

function parsePort(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 1 || n > 65535)
    throw new UsageError(`${flag} needs a port number`);
  return n;
}

async function cmdFetch(args: string[]): Promise<void> {
  const unknown = args.find((a) => a.startsWith('-'));
  if (unknown !== undefined) throw new UsageError(`unknown option ${unknown}`);
  const versions = args.length > 0 ? args : Object.values(KAFKA_VERSIONS);
  for (const v of versions) {
    const libs = await fetchKafka(v, log);
    log(`Kafka ${v}: ${libs}`);
  }
}

interface Running {
  brokers: string[];
  version: string;
  dataDir?: string;
  kill(): Promise<void>;
  destroy(): Promise<void>;
}

async function cmdStart(args: string[]): Promise<void> {
  const opts: { version?: string; port?: number; controllerPort?: number; dataDir?: string; log: typeof log } = { log };
  let cluster = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--version':
        opts.version = value();
        break;
      case '--port':
        opts.port = parsePort(flag, value());
        break;
      case '--controller-port':
        opts.controllerPort = parsePort(flag, value());
        break;
      case '--data-dir':
        opts.dataDir = value();
        break;
      case '--cluster':
        cluster = true;
        break;
      default:
        throw new UsageError(`unknown argument ${a}`);
    }
  }

  if (cluster && (opts.port ?? opts.controllerPort ?? opts.dataDir) !== undefined)
    throw new UsageError('--cluster picks free ports and a temp dir itself');
  const launch = async (): Promise<Running> => {
    if (!cluster) return startKafka(opts);
    const c = await startKafkaCluster({ version: opts.version, log });
    return {
      brokers: c.brokers,
      version: c.version,
      destroy: c.destroy,
      kill: async () => {
        await Promise.all(c.nodeIds.map((id) => c.kill(id)));
      },
    };
  };
  let broker: Running | undefined;
  let shuttingDown = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      log(`${signal} again: killing Kafka`);
      void (broker?.kill() ?? Promise.resolve()).finally(() => process.exit(1));
      return;
    }
    shuttingDown = true;
    log(`${signal}: stopping Kafka`);
    if (broker === undefined) return; // still starting: cmdStart tears it down once startKafka returns
    void broker.destroy().then(
      () => process.exit(0),
      (err: unknown) => {
        log(`stop failed: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  // The JVM child is the only thing keeping the event loop alive once started:
  // if the loop drains without a signal, the broker died on its own.
  process.on('beforeExit', () => {
    if (!shuttingDown && broker !== undefined) {
      log('Kafka exited unexpectedly');
      process.exit(1);
    }
  });

  broker = await launch();
  if (shuttingDown) {
    // A signal arrived while starting.
    await broker.destroy();
    process.exit(0);
  }
  process.stdout.write(`KAFKA_BROKERS=${broker.brokers.join(',')}\n`);
  log(
    `${broker.dataDir ? `data dir ${broker.dataDir}; ` : ''}jars in ${kafkaCacheDir(broker.version)}; Ctrl-C to stop`,
  );
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'fetch':
      return cmdFetch(rest);
    case 'start':
      return cmdStart(rest);
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      throw new UsageError(cmd === undefined ? 'missing command' : `unknown command ${cmd}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`${err.message}\n${USAGE}\n`);
    process.exit(2);
  }
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
