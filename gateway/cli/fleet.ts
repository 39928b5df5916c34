/** `sensorgate fleet` (docs/reference/cli.md; docs/status.md): the fleet status page server. */
import { type Command, Option } from 'commander';
import { type Config, ConfigError } from '../config/config.js';
import { createLogger } from '../lib/log.js';
import { FleetServer } from '../offsite/fleet/fleet-server.js';
import { listenProblem } from '../web/auth.js';
import { action } from './exit.js';
import { kafkaFromFlags } from './kafka-flags.js';
import { untilSignal } from './signals.js';

interface FleetCliOptions {
  brokers?: string;
  config?: string;
  port: string;
  host: string;
  topic?: string;
  authToken?: string;
  ssl?: boolean;
  saslMechanism?: 'plain' | 'scram-sha-256' | 'scram-sha-512';
  saslUsername?: string;
  logLevel: string;
  maxGateways: string;
}

/** Options checked as the gateway's config is (the same schema for the Kafka part), named as typed. */
function fleetSettings(
  o: FleetCliOptions,
  env: NodeJS.ProcessEnv,
): { kafka: Config['kafka']; host: string; port: number; authToken?: string; maxGateways: number } {
  const problems: string[] = [];
  const kafka = kafkaFromFlags(o, env, 'statusTopic', problems);
  const port = Number(o.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    problems.push(`--port: expected a port number (0-65535), found "${o.port}"`);
  const maxGateways = Number(o.maxGateways);
  if (!Number.isInteger(maxGateways) || maxGateways < 1)
    problems.push(`--max-gateways: expected a whole number of at least 1, found "${o.maxGateways}"`);
  const authToken = o.authToken ?? (env.SENSORGATE_FLEET_TOKEN || undefined);
  const problem = listenProblem(o.host, authToken);
  if (problem) problems.push(`--auth-token: ${problem} (or set SENSORGATE_FLEET_TOKEN)`);
  if (problems.length || !kafka) throw new ConfigError(problems);
  return { kafka, host: o.host, port, authToken, maxGateways };
}

export function defineFleet(command: Command): void {
  command
    .option('-b, --brokers <list>', 'Kafka bootstrap brokers, HOST:PORT[,HOST:PORT…]')
    .option(
      '-c, --config <file>',
      "read brokers, TLS, SASL and topics from the kafka: section of this config file (a gateway's own will do; see docs/kafka.md)",
    )
    .option('-p, --port <port>', 'HTTP port', '8080')
    .option('--host <host>', 'address to listen on; beyond loopback an auth token is required', '127.0.0.1')
    .option('-t, --topic <topic>', "the gateways' kafka.statusTopic (default: the file's, or sensorgate.status)")
    .option(
      '--auth-token <token>',
      'require this token (Bearer, or the password of Basic auth with any user); default $SENSORGATE_FLEET_TOKEN',
    )
    .option('--ssl', "TLS to the brokers, verified against the system's CAs (a private CA or mutual TLS: use --config)")
    .addOption(
      new Option(
        '--sasl-mechanism <mechanism>',
        'SASL authentication to the brokers (password from $SENSORGATE_FLEET_SASL_PASSWORD)',
      ).choices(['plain', 'scram-sha-256', 'scram-sha-512']),
    )
    .option('--sasl-username <user>', 'SASL user name')
    .option(
      '--max-gateways <n>',
      'gateways tracked at most; statuses of further gateways are refused and counted',
      '10000',
    )
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['trace', 'debug', 'info', 'warn', 'error'])
        .default('info'),
    )
    .action(
      action('fleet', async (opts: FleetCliOptions) => {
        const settings = fleetSettings(opts, process.env);
        const log = createLogger(opts.logLevel);
        const fleet = new FleetServer({ ...settings, log });
        await fleet.start();
        log.info(
          { url: fleet.url, topic: settings.kafka.statusTopic, brokers: settings.kafka.brokers },
          'fleet page listening',
        );
        process.stderr.write(`fleet page: ${fleet.url}/\n`);
        await untilSignal();
        await fleet.stop();
        process.exit(0);
      }),
    );
}
