/**
 * `sensorgate demo` (docs/reference/cli.md; docs/simulator.md): the whole pipeline on one machine.
 * The flags are checked here; the stack it starts is demo-stack.ts.
 */
import type { Command } from 'commander';
import { DemoUsageError, runDemo } from './demo-stack.js';
import { exitWithProblems } from './exit.js';

interface DemoCliOptions {
  dataDir: string;
  statusPort?: string;
  fleetPort?: string;
  mqttUrl?: string;
  seed: string;
}

export function defineDemo(command: Command): void {
  command
    .option('--data-dir <dir>', 'where the demo keeps its buffer and broker data', '.sensorgate-demo')
    .option(
      '--status-port <port>',
      "the first gateway's status page port, the next gateway takes the next one (default 8081, or free ports when taken)",
    )
    .option('--fleet-port <port>', 'fleet page port (default 8080, or a free one when 8080 is taken)')
    .option('--mqtt-url <url>', 'use this MQTT broker instead of the embedded one')
    .option('--seed <seed>', 'seed of the simulated devices (same seed, same values)', '1')
    .action(async (opts: DemoCliOptions) => {
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
      try {
        await runDemo({ dataDir: opts.dataDir, statusPort, fleetPort, mqttUrl: opts.mqttUrl, seed: opts.seed });
        // Everything is stopped and every buffer closed: exit as `run` does. Waiting for the event
        // loop to drain instead hung once on two Kafka sockets a client library never released.
        process.exit(0);
      } catch (err) {
        if (!(err instanceof DemoUsageError)) throw err;
        exitWithProblems('demo', [err.message]);
      }
    });
}
