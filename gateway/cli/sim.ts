/**
 * `sensorgate sim --config FILE` (docs/reference/cli.md): simulated sensor devices (firmware-sim) for
 * developing gateway configs and consumers without hardware. Prints where each device is and the
 * gateway sources that read them, then runs until SIGINT/SIGTERM. A config it refuses exits 2
 * with one line per problem, naming the key, as `sensorgate run` does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { simConfigSchema } from '../../firmware-sim/config.js';
import { Simulator } from '../../firmware-sim/simulator.js';
import { ConfigError, loadYamlMapping, validateWith } from '../config/config.js';
import { action } from './exit.js';
import { untilSignal } from './signals.js';

interface SimCliOptions {
  config: string;
  devDir?: string;
  mqttUrl?: string;
  seed?: string;
  summary: string;
}

/** The config file, with the command line's overrides, as the simulator's schema validates it. */
function loadSimConfig(o: SimCliOptions) {
  const cfg = validateWith(simConfigSchema, {
    ...loadYamlMapping(o.config),
    ...(o.mqttUrl !== undefined ? { mqttUrl: o.mqttUrl } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  });
  const gpio = cfg.devices.flatMap((d, i) =>
    d.transport === 'gpio'
      ? [
          `devices[${i}].transport: a gpio device drives the simulated chip inside one process; only \`sensorgate demo\` (or a test) can read it`,
        ]
      : [],
  );
  if (gpio.length) throw new ConfigError(gpio);
  return cfg;
}

export function defineSim(command: Command): void {
  command
    .requiredOption('-c, --config <file>', 'simulator config (YAML; see docs/simulator.md and firmware-sim/samples/)')
    .option('--dev-dir <dir>', 'where the pseudo-terminal links are made (default: a new temporary directory)')
    .option('--mqtt-url <url>', 'broker of MQTT devices that name none (overrides mqttUrl)')
    .option('--seed <seed>', "seed instead of the config's (same seed, same values)")
    .option('--summary <seconds>', 'print device counters this often (0: never)', '10')
    .action(
      action('sim', async (opts: SimCliOptions) => {
        const cfg = loadSimConfig(opts);
        const tempDir = opts.devDir === undefined ? mkdtempSync(join(tmpdir(), 'sensorgate-sim-')) : undefined;
        const sim = new Simulator(cfg, {
          devDir: resolve(opts.devDir ?? tempDir!),
          onError: (device, err) => process.stderr.write(`sim: ${device}: ${err.message}\n`),
        });
        const out = (line: string) => process.stdout.write(`${line}\n`);
        try {
          await sim.start();
          out(`sensorgate sim: ${sim.devices.length} devices, seed ${cfg.seed}, time scale ${cfg.timeScale}`);
          for (const d of sim.devices) out(`  ${d.id.padEnd(16)} ${d.describe()}`);
          for (const group of sim.groups()) {
            out('');
            out(`# gateway sources for ${group === undefined ? 'these devices' : `gateway ${group}`}:`);
            out(stringify({ sources: sim.group(group).map((d) => d.source()) }).trimEnd());
          }
          out('');
          const every = Number(opts.summary) * 1000;
          const timer =
            every > 0
              ? setInterval(() => {
                  out(
                    `${new Date().toTimeString().slice(0, 8)}  ${sim.devices
                      .map(
                        (d) =>
                          `${d.id}: ${d.stats.sent} sent${
                            Object.keys(d.stats.injected).length
                              ? ` (${Object.entries(d.stats.injected)
                                  .map(([f, n]) => `${f} ${n}`)
                                  .join(', ')})`
                              : ''
                          }`,
                      )
                      .join('  ')}`,
                  );
                }, every)
              : undefined;
          await untilSignal();
          clearInterval(timer);
        } finally {
          await sim.stop();
          if (tempDir) rmSync(tempDir, { recursive: true, force: true });
        }
        process.exit(0);
      }),
    );
}
