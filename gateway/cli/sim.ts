/**
 * `sensorgate sim --config FILE` (README: Commands): simulated sensor devices (firmware-sim) for
 * developing gateway configs and consumers without hardware. Prints where each device is and the
 * gateway sources that read them, then runs until SIGINT/SIGTERM. A config it refuses exits 2
 * with one line per problem, naming the key, as `sensorgate run` does.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml, stringify } from 'yaml';
import { ConfigError } from '../config/config.js';
import { action } from './pack.js';
import { untilSignal } from './signals.js';

interface SimCliOptions {
  config: string;
  devDir?: string;
  mqttUrl?: string;
  seed?: string;
  summary: string;
}

/** The config file, with the command line's overrides, as the simulator's schema validates it. */
async function loadSimConfig(o: SimCliOptions) {
  const { parseSimConfig, SimConfigError } = await import('../../firmware-sim/config.js');
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(o.config, 'utf8')) ?? {};
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError([
      `${o.config}: ${e.code ? `cannot read (${e.code})` : `not valid YAML: ${e.message.split('\n')[0]}`}`,
    ]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ConfigError([`${o.config}: the top level must be a mapping`]);
  const overridden = {
    ...raw,
    ...(o.mqttUrl !== undefined ? { mqttUrl: o.mqttUrl } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  };
  try {
    const cfg = parseSimConfig(overridden);
    const gpio = cfg.devices.flatMap((d, i) =>
      d.transport === 'gpio'
        ? [
            `devices[${i}].transport: a gpio device drives the simulated chip inside one process; only \`sensorgate demo\` (or a test) can read it`,
          ]
        : [],
    );
    if (gpio.length) throw new ConfigError(gpio);
    return cfg;
  } catch (err) {
    if (err instanceof SimConfigError) throw new ConfigError([...err.problems]);
    throw err;
  }
}

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description(
      'run simulated sensor devices (serial and JSONL on pseudo-terminals, Modbus RTU slaves, MQTT publishers) with physical models and faults; prints where each device is and the gateway sources that read them',
    )
    .requiredOption('-c, --config <file>', 'simulator config (YAML; see docs/simulator.md and firmware-sim/samples/)')
    .option('--dev-dir <dir>', 'where the pseudo-terminal links are made (default: a new temporary directory)')
    .option('--mqtt-url <url>', 'broker of MQTT devices that name none (overrides mqttUrl)')
    .option('--seed <seed>', "seed instead of the config's (same seed, same values)")
    .option('--summary <seconds>', 'print device counters this often (0: never)', '10')
    .action(
      action('sim', async (opts: SimCliOptions) => {
        const cfg = await loadSimConfig(opts);
        const { Simulator } = await import('../../firmware-sim/simulator.js');
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
