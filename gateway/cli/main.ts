#!/usr/bin/env -S node --max-semi-space-size=1
/**
 * The `sensorgate` command line (README: Commands).
 *
 * The shebang caps V8's young generation at 1 MiB per semi-space: the default (16 MiB) lets a
 * busy gateway's RSS grow by ~30 MiB for garbage it would collect anyway, and edge devices are
 * short of memory long before they are short of CPU (`npm run bench` shows both).
 */
import { Command, Option } from 'commander';
import { stringify } from 'yaml';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { configJsonSchema, redactSecrets } from '../config/config.js';
import { Gateway } from '../gateway.js';
import { createLogger } from '../lib/log.js';
import { VERSION } from '../lib/version.js';
import { registerConsume } from './consume.js';
import { configOrExit, exitWithProblems } from './exit.js';
import { registerFlash } from './flash.js';
import { registerFleet } from './fleet.js';
import { registerPack } from './pack.js';
import { registerProvision } from './provision.js';
import { registerSim } from './sim.js';

const configOption = new Option(
  '-c, --config <file>',
  'gateway config (YAML); SENSORGATE_* variables override its keys',
).makeOptionMandatory();

const program = new Command('sensorgate')
  .description(
    'Durable IoT ingestion gateway: sensors over MQTT, serial and GPIO, buffered in SQLite, forwarded to Apache Kafka.',
  )
  .version(VERSION, '-V, --version')
  .showHelpAfterError()
  .addHelpText(
    'after',
    `
Examples:
  sensorgate demo                                   the whole pipeline on this machine
  sensorgate check -c /etc/sensorgate/config.yaml   validate a config, print it resolved
  sensorgate run -c /etc/sensorgate/config.yaml     the gateway daemon
  sensorgate buffer stats -c /etc/sensorgate/config.yaml
  sensorgate fleet --brokers kafka-1:9092           the fleet status page on :8080

Docs: README.md; docs/drivers.md, status.md, deploy.md, simulator.md, bench.md`,
  );

program
  .command('run')
  .description('run the gateway daemon until SIGTERM/SIGINT; invalid config exits 2')
  .addOption(configOption)
  .action(async (opts: { config: string }) => {
    const cfg = configOrExit(opts.config);
    // What the daemon creates (the buffer and its journal, set-aside damaged copies) holds
    // readings and is nobody else's business: owner only, as systemd's UMask=0077 gives it too.
    process.umask(0o077);
    const log = createLogger(cfg.log.level);
    const gateway = new Gateway(cfg, log);
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping');
      gateway.stop().then(
        () => process.exit(0),
        (err: Error) => {
          log.error({ err: err.message }, 'stop failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    try {
      await gateway.start();
    } catch (err) {
      log.fatal({ err: (err as Error).message }, 'gateway failed to start');
      await gateway.stop().catch(() => undefined);
      process.exit(1);
    }
  });

program
  .command('check')
  .description(
    'validate a config and print the resolved result (defaults filled in, environment applied, secrets shown as "***")',
  )
  .addOption(configOption)
  .action((opts: { config: string }) => {
    process.stdout.write(stringify(redactSecrets(configOrExit(opts.config))));
  });

program
  .command('config')
  .description('about the config file format')
  .command('schema')
  .description('print the JSON Schema of the gateway config (for editors and CI)')
  .action(() => {
    process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
  });

const buffer = program.command('buffer').description('inspect the local buffer');

buffer
  .command('stats')
  .description('print {"depth","bytes","oldestTs","nextSeq"} of the buffer as JSON')
  .addOption(configOption)
  .action((opts: { config: string }) => {
    const cfg = configOrExit(opts.config);
    process.stdout.write(`${JSON.stringify(SqliteBuffer.stats(cfg.gateway.dataDir))}\n`);
  });

buffer
  .command('quarantine')
  .description('print rejected input kept for diagnosis, newest first, one JSON object per line')
  .addOption(configOption)
  .option('-n, --limit <n>', 'how many rows', '100')
  .action((opts: { config: string; limit: string }) => {
    const cfg = configOrExit(opts.config);
    for (const q of SqliteBuffer.quarantined(cfg.gateway.dataDir, Number(opts.limit))) {
      process.stdout.write(`${JSON.stringify({ ...q, payload: q.payload?.toString('utf8') ?? null })}\n`);
    }
  });

program
  .command('demo')
  .description(
    'everything on one machine: a local Kafka (or $KAFKA_BROKERS), an MQTT broker, simulated serial, Modbus, MQTT and GPIO devices, two gateways and the fleet page; prints the URLs',
  )
  .option('--data-dir <dir>', 'where the demo keeps its buffer and broker data', '.sensorgate-demo')
  .option(
    '--status-port <port>',
    "the first gateway's status page port, the next gateway takes the next one (default 8081, or free ports when taken)",
  )
  .option('--fleet-port <port>', 'fleet page port (default 8080, or a free one when 8080 is taken)')
  .option('--mqtt-url <url>', 'use this MQTT broker instead of the embedded one')
  .option('--seed <seed>', 'seed of the simulated devices (same seed, same values)', '1')
  .action(
    async (opts: { dataDir: string; statusPort?: string; fleetPort?: string; mqttUrl?: string; seed: string }) => {
      // Every flag is checked before anything starts (Kafka takes a while, and a JVM left behind helps nobody).
      const problems: string[] = [];
      const port = (flag: string, v: string | undefined) => {
        if (v === undefined) return undefined;
        const n = Number(v);
        if (/^\d+$/.test(v.trim()) && n >= 1 && n <= 65535) return n;
        problems.push(`${flag}: expected a port number (1-65535), found "${v}"`);
        return undefined;
      };
      const statusPort = port('--status-port', opts.statusPort);
      const fleetPort = port('--fleet-port', opts.fleetPort);
      if (opts.mqttUrl !== undefined && !/^(mqtts?|wss?):\/\/.+/.test(opts.mqttUrl))
        problems.push(`--mqtt-url: expected an mqtt://, mqtts://, ws:// or wss:// URL, found "${opts.mqttUrl}"`);
      if (problems.length) exitWithProblems('demo', problems);
      const { runDemo, DemoUsageError } = await import('./demo-stack.js');
      try {
        await runDemo({ dataDir: opts.dataDir, statusPort, fleetPort, mqttUrl: opts.mqttUrl, seed: opts.seed });
        // Everything is stopped and every buffer closed: exit as `run` does. Waiting for the event
        // loop to drain instead hung once on two Kafka sockets a client library never released.
        process.exit(0);
      } catch (err) {
        if (!(err instanceof DemoUsageError)) throw err;
        exitWithProblems('demo', [err.message]);
      }
    },
  );

registerPack(program);
registerFlash(program);
registerProvision(program);
registerFleet(program);
registerSim(program);
registerConsume(program);

await program.parseAsync();
