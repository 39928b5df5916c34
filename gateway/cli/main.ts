#!/usr/bin/env -S node --max-semi-space-size=1 --v8-pool-size=1
/**
 * The `sensorgate` command line (docs/reference/cli.md).
 *
 * The shebang caps V8's young generation at 1 MiB per semi-space: the default (16 MiB) lets a
 * busy gateway's RSS grow by ~30 MiB for garbage it would collect anyway, and edge devices are
 * short of memory long before they are short of CPU (`npm run bench` shows both). It also gives
 * V8 one background thread instead of one per core: each keeps its own stack and malloc arena,
 * and at a steady 500 readings/s peak RSS fell from 101 to 93 MiB (RssAnon 52 to 45) while a
 * burst went no slower and took no more CPU per reading.
 */
import { Command } from 'commander';
import { VERSION } from '../lib/version.js';
import { registerBuffer } from './buffer.js';
import { registerCheck } from './check.js';
import { registerConfigSchema } from './config-schema.js';
import { addLazyCommands } from './lazy-commands.js';
import { registerRun } from './run.js';

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

Docs: README.md; docs/reference/ (cli, config, wire formats, Kafka records, status and metrics, delivery);
      docs/drivers.md, status.md, kafka.md, durability.md, deploy.md, simulator.md, bench.md`,
  );

// What runs on a device, loaded with the program: not the config's validator, which these
// commands load in a worker or when they run (see config-or-exit.ts).
registerRun(program);
registerCheck(program);
registerConfigSchema(program);
registerBuffer(program);

// What runs beside it, loaded when asked for (and left out of the device bundle).
await addLazyCommands(
  program,
  [
    {
      name: 'demo',
      description:
        'everything on one machine: a local Kafka (or $KAFKA_BROKERS), an MQTT broker, simulated serial, Modbus, MQTT and GPIO devices, two gateways and the fleet page; prints the URLs',
      load: async () => (await import('./demo.js')).defineDemo,
    },
    {
      name: 'pack',
      description:
        'build a self-contained offline bundle for a device: compiled code, production node_modules with native modules cross-compiled for ARCH, systemd unit and install.sh',
      load: async () => (await import('./pack.js')).definePack,
    },
    {
      name: 'flash',
      description:
        'customise a Raspberry Pi OS image (never modified: written to --out) or card (--device) so that its first boot installs the bundle, writes the config and starts the service',
      load: async () => (await import('./flash.js')).defineFlash,
    },
    {
      name: 'provision',
      description:
        'validate a fleet inventory and write one customised image per device (--image) or one config folder per device for install.sh',
      load: async () => (await import('./provision.js')).defineProvision,
    },
    {
      name: 'fleet',
      description:
        'the fleet status page: reads the compacted status topic and serves / (the page), /api/gateways, /api/fleet (its own state), /metrics and live updates',
      load: async () => (await import('./fleet.js')).defineFleet,
    },
    {
      name: 'sim',
      description:
        'run simulated sensor devices (serial and JSONL on pseudo-terminals, Modbus RTU slaves, MQTT publishers) with physical models and faults; prints where each device is and the gateway sources that read them',
      load: async () => (await import('./sim.js')).defineSim,
    },
    {
      name: 'consume',
      description:
        'example predictive-maintenance consumer: reads the readings topic (read_committed, deduplicated on gateway+seq), shows rolling statistics per sensor and metric, and raises a wear alarm when smoothed vibration crosses --threshold or its trend projects that within --horizon',
      load: async () => (await import('./consume.js')).defineConsume,
    },
  ],
  process.argv.slice(2),
);

await program.parseAsync();
