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
import { Command, InvalidArgumentError } from 'commander';
import { startKafkaCluster } from './cluster.js';
import { fetchKafka, KAFKA_VERSIONS, kafkaCacheDir } from './fetch.js';
import { startKafka } from './launcher.js';

const log = (msg: string): void => {
  process.stderr.write(`[kafka] ${msg}\n`);
};

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 65535) throw new InvalidArgumentError('expected a port number (1-65535)');
  return n;
}

interface Running {
  brokers: string[];
  version: string;
  dataDir?: string;
  kill(): Promise<void>;
  destroy(): Promise<void>;
}

interface StartOptions {
  version?: string;
  port?: number;
  controllerPort?: number;
  dataDir?: string;
  cluster?: boolean;
}

async function start(opts: StartOptions): Promise<void> {
  const launch = async (): Promise<Running> => {
    if (!opts.cluster) return startKafka({ ...opts, log });
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
    if (broker === undefined) return; // still starting: start() tears it down once the launch returns
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

const versions = `x.y.z, "latest" (${KAFKA_VERSIONS.latest}) or "legacy" (${KAFKA_VERSIONS.legacy})`;
const program = new Command('node dist/deploy/kafka/cli.js')
  .description('a local Apache Kafka (KRaft) for development and tests; progress goes to stderr')
  .showHelpAfterError()
  // Wrong usage exits 2, as the sensorgate CLI does; help exits 0.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program
  .command('fetch')
  .description(`prefetch the Kafka jars into the cache (default: ${Object.values(KAFKA_VERSIONS).join(' ')})`)
  .argument('[versions...]', versions)
  .action(async (wanted: string[]) => {
    for (const v of wanted.length > 0 ? wanted : Object.values(KAFKA_VERSIONS)) {
      log(`Kafka ${v}: ${await fetchKafka(v, log)}`);
    }
  });

program
  .command('start')
  .description('start a broker, print KAFKA_BROKERS=HOST:PORT on stdout, run until SIGINT/SIGTERM (then stop it)')
  .option('--version <version>', versions)
  .option('--port <port>', 'the broker port (default: a free one)', port)
  .option('--controller-port <port>', 'the KRaft controller port (default: a free one)', port)
  .option('--data-dir <dir>', 'keep the broker data here (default: a temp dir, removed on stop)')
  .option('--cluster', 'a controller and three brokers (replication factor 3, min ISR 2), on free ports and a temp dir')
  .action(async (opts: StartOptions) => {
    if (opts.cluster && (opts.port ?? opts.controllerPort ?? opts.dataDir) !== undefined)
      program.error('--cluster picks free ports and a temp dir itself', { exitCode: 2 });
    await start(opts);
  });

await program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
