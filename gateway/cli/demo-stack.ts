/**
 * `sensorgate demo`: the whole pipeline on one machine. A local Kafka (or $KAFKA_BROKERS), an
 * in-process MQTT broker (aedes, unless --mqtt-url names one), the simulated plant of
 * firmware-sim/demo-plant.ts (serial, Modbus RTU and TCP, MQTT, Sparkplug B and GPIO devices on
 * real pseudo-terminals, real sockets, a real broker and the simulated GPIO chip), one gateway per production line, and the fleet page.
 * It prints where to look and a live summary until Ctrl-C, then stops everything it started:
 * devices and their socat processes, gateways, servers, the broker and the Kafka JVM.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { relative, resolve } from 'node:path';
import { Aedes } from 'aedes';
import { type Logger, pino } from 'pino';
import { KAFKA_VERSIONS, startKafka } from '../../deploy/kafka/launcher.js';
import { freePort } from '../../deploy/net.js';
import type { SimConfig } from '../../firmware-sim/config.js';
import { demoPlant } from '../../firmware-sim/demo-plant.js';
import { SimGpioChip } from '../../firmware-sim/gpio-chip.js';
import { Machine } from '../../firmware-sim/models/machine.js';
import { SOCAT_BIN } from '../../firmware-sim/pty.js';
import { Simulator } from '../../firmware-sim/simulator.js';
import { configSchema, validateConfig } from '../config/config.js';
import { Gateway } from '../gateway.js';
import { FleetServer } from '../offsite/fleet/fleet-server.js';
import { untilSignal } from './signals.js';

export interface DemoOptions {
  dataDir: string;
  /** The first gateway's status port; the next gateways take the ports after it. Default 8081, or free ports when taken. */
  statusPort?: number;
  /** Default 8080, or a free port when 8080 is taken. */
  fleetPort?: number;
  /** An MQTT broker to use instead of the embedded one. */
  mqttUrl?: string;
  seed?: number | string;
}

const SUMMARY_MS = 5000;
/** Shown sooner than the default 10 s, so the fleet page comes alive quickly. */
const HEARTBEAT_MS = 5000;

/** What every step of the demo needs: the options, where to write, and what to stop at the end. */
interface Demo {
  o: DemoOptions;
  dataDir: string;
  say: (line: string) => void;
  log: Logger;
  /** Stops what a step started; run in reverse order at the end. */
  cleanups: Array<() => Promise<unknown>>;
}

interface RunningGateway {
  gateway: Gateway;
  url: string;
}

export async function runDemo(o: DemoOptions): Promise<void> {
  const dataDir = resolve(o.dataDir);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  // The console is for the URLs and the summary; the components' logs go to a file.
  const logFile = resolve(dataDir, 'demo.log');
  const log = pino(
    { level: 'info', base: { pid: process.pid } },
    pino.destination({ dest: logFile, mkdir: true, sync: true }),
  );
  const demo: Demo = { o, dataDir, say, log, cleanups: [] };
  let signal: string | undefined;
  const stopped = untilSignal().then((s) => (signal = s));
  /** Ctrl-C while starting: the step under way finishes (a JVM half started cannot be left), then everything stops. */
  const interrupted = () => {
    if (signal) throw new Interrupted(signal);
  };

  const ports = await choosePorts(o);
  try {
    const brokers = await kafkaFor(demo);
    interrupted();
    const mqttUrl = o.mqttUrl || (await startMqttBroker(demo));
    const { sim, chipOf } = await startPlant(demo, mqttUrl);
    interrupted();
    const gateways = await startGateways(demo, sim, chipOf, brokers, ports.statusPorts, interrupted);
    const fleet = await startFleet(demo, brokers, ports.fleetPort);
    printWhereToLook(demo, { fleet, gateways, brokers, mqttUrl, sim, logFile });
    startSummary(demo, gateways, sim);
    say(`${await stopped}: stopping…`);
  } catch (err) {
    if (!(err instanceof Interrupted)) throw err;
    say(`${err.message}: stopping…`);
  } finally {
    for (const c of demo.cleanups.reverse()) await c().catch((err: Error) => say(`  (while stopping: ${err.message})`));
    say('stopped.');
  }
}

/** Ports first, before anything starts: ports asked for must be free; defaults give way to free ones. */
async function choosePorts(o: DemoOptions): Promise<{ statusPorts: number[]; fleetPort: number }> {
  const lines = new Set(demoPlant({ seed: o.seed, mqttUrl: 'mqtt://127.0.0.1:1883' }).devices.map((d) => d.gateway))
    .size;
  const taken = new Set<number>();
  const statusPorts: number[] = [];
  for (let i = 0; i < lines; i++)
    statusPorts.push(
      await choosePort((o.statusPort ?? DEFAULT_STATUS_PORT) + i, o.statusPort !== undefined, '--status-port', taken),
    );
  const fleetPort = await choosePort(
    o.fleetPort ?? DEFAULT_FLEET_PORT,
    o.fleetPort !== undefined,
    '--fleet-port',
    taken,
  );
  return { statusPorts, fleetPort };
}

/** $KAFKA_BROKERS, or a local Kafka started for the demo (its data kept in the demo's data dir). */
async function kafkaFor({ dataDir, say, cleanups }: Demo): Promise<string[]> {
  const given = process.env.KAFKA_BROKERS?.split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (given?.length) return given;
  say(`starting Apache Kafka ${KAFKA_VERSIONS.latest} (the first run downloads it from Maven Central)…`);
  const kafka = await startKafka({
    version: KAFKA_VERSIONS.latest,
    dataDir: resolve(dataDir, 'kafka'),
    log: (m) => say(`  kafka: ${m}`),
  });
  cleanups.push(() => kafka.stop());
  return kafka.brokers;
}

/** The embedded MQTT broker (aedes) on a free port; returns its URL. */
async function startMqttBroker({ cleanups }: Demo): Promise<string> {
  const aedes = await Aedes.createBroker();
  const mqttServer: Server = createServer(aedes.handle);
  const port = await freePort();
  await new Promise<void>((r) => mqttServer.listen(port, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise((r) => {
        mqttServer.close();
        aedes.close(() => r(undefined));
      }),
  );
  return `mqtt://127.0.0.1:${port}`;
}

/** The simulated plant's devices, and the simulated GPIO chip of each production line. */
async function startPlant(
  { o, dataDir, say, log, cleanups }: Demo,
  mqttUrl: string,
): Promise<{ sim: Simulator; chipOf: (line: string | undefined) => SimGpioChip }> {
  const plant = withoutSerialIfNoSocat(demoPlant({ seed: o.seed, mqttUrl }), say);
  const chips = new Map<string | undefined, SimGpioChip>();
  const chipOf = (line: string | undefined) => {
    let c = chips.get(line);
    if (!c) {
      c = new SimGpioChip();
      chips.set(line, c);
    }
    return c;
  };
  const sim = new Simulator(plant, {
    devDir: resolve(dataDir, 'dev'),
    gpioChip: chipOf,
    onError: (device, err) => log.warn({ device, err: err.message }, 'simulated device'),
  });
  cleanups.push(async () => {
    await sim.stop();
    for (const c of chips.values()) c.close();
  });
  await sim.start();
  return { sim, chipOf };
}

/** One gateway per production line, reading that line's devices. */
async function startGateways(
  { o, dataDir, log, cleanups }: Demo,
  sim: Simulator,
  chipOf: (line: string | undefined) => SimGpioChip,
  brokers: string[],
  statusPorts: number[],
  interrupted: () => void,
): Promise<RunningGateway[]> {
  const gateways: RunningGateway[] = [];
  for (const [i, line] of sim.groups().entries()) {
    const id = `demo-${line ?? 'gw'}`;
    const cfg = validateConfig({
      gateway: { id, dataDir: resolve(dataDir, 'gateways', id) },
      kafka: { brokers },
      status: { listen: `127.0.0.1:${statusPorts[i] ?? (await freePort())}`, heartbeatIntervalMs: HEARTBEAT_MS },
      // aedes speaks MQTT 3.1.1.
      sources: sim
        .group(line)
        .map((d) => d.source())
        .map((s) => ({ ...s, ...(s.driver === 'mqtt' && !o.mqttUrl ? { mqttVersion: '3.1.1' } : {}) })),
    });
    // The line's simulated GPIO chip, handed in: no config value can select it.
    const gateway = new Gateway(cfg, log, { openGpioChip: async () => chipOf(line) });
    cleanups.push(() => gateway.stop());
    await gateway.start();
    interrupted();
    gateways.push({ gateway, url: `http://${cfg.status.listen}` });
  }
  return gateways;
}

async function startFleet({ log, cleanups }: Demo, brokers: string[], port: number): Promise<FleetServer> {
  const fleet = new FleetServer({
    kafka: configSchema.shape.kafka.parse({ brokers }),
    host: '127.0.0.1',
    port,
    log,
  });
  cleanups.push(() => fleet.stop());
  await fleet.start();
  return fleet;
}

function printWhereToLook(
  { dataDir, say }: Demo,
  s: {
    fleet: FleetServer;
    gateways: RunningGateway[];
    brokers: string[];
    mqttUrl: string;
    sim: Simulator;
    logFile: string;
  },
): void {
  say('');
  say('sensorgate demo is running:');
  say(`  fleet page      ${s.fleet.url}/   (api: ${s.fleet.url}/api/gateways)`);
  for (const { gateway: g, url } of s.gateways)
    say(`  gateway ${g.status!.gateway.padEnd(12)} ${url}/   (api: ${url}/api/status, metrics: ${url}/metrics)`);
  say(`  kafka           ${s.brokers.join(',')}   topics sensor.readings, sensorgate.status`);
  say(`  mqtt broker     ${s.mqttUrl}`);
  say('  devices:');
  for (const d of s.sim.devices)
    say(
      `    ${(d.config.gateway ?? '').padEnd(6)} ${d.id.padEnd(13)} ${d.describe().replace(dataDir, relative(process.cwd(), dataDir) || '.')}`,
    );
  say(`  logs            ${relative(process.cwd(), s.logFile)}`);
  say(
    `  try: npx sensorgate consume --brokers ${s.brokers.join(',')}   (rolling statistics and the bearing-wear alarm)`,
  );
  say('  Ctrl-C stops everything.');
  say('');
}

/** Every SUMMARY_MS, a line per gateway (intake, rejections, delivery) and the bearings' wear. */
function startSummary({ say, cleanups }: Demo, gateways: RunningGateway[], sim: Simulator): void {
  const machines = sim.devices.filter((d) => d.firmware.model instanceof Machine);
  const before = new Map<string, number>();
  const timer = setInterval(() => {
    const time = new Date().toTimeString().slice(0, 8);
    for (const { gateway: g } of gateways) {
      const s = g.status!.snapshot();
      const ingested = s.sources.reduce((n, x) => n + x.readings, 0);
      const rejected = s.sources.reduce((n, x) => n + x.rejected, 0);
      const up = s.sources.filter((x) => x.state === 'up').length;
      const rate = ((ingested - (before.get(s.gateway) ?? 0)) * 1000) / SUMMARY_MS;
      before.set(s.gateway, ingested);
      say(
        `${time}  ${s.gateway}: ingested ${ingested} (${rate.toFixed(0)}/s)  rejected ${rejected}  sent ${s.uplink.sent}  buffered ${s.buffer.depth}  uplink ${s.uplink.connected ? 'up' : 'down'}  sources up ${up}/${s.sources.length}`,
      );
    }
    say(
      `${time}  bearings: ${machines
        .map((d) => {
          const b = (d.firmware.model as Machine).bearing;
          return `${d.id} ${(b.life * 100).toFixed(0)}% worn`;
        })
        .join(', ')}`,
    );
  }, SUMMARY_MS);
  cleanups.push(async () => clearInterval(timer));
}

const DEFAULT_FLEET_PORT = 8080;
const DEFAULT_STATUS_PORT = 8081;

/** A mistake in what the demo was asked for (a port in use): said in one line, exit 2. */
export class DemoUsageError extends Error {}

/** `preferred` when it is free; when it is not, a free port, unless the user asked for this one. */
async function choosePort(preferred: number, explicit: boolean, flag: string, taken: Set<number>): Promise<number> {
  let port = preferred;
  if (taken.has(port) || !(await portFree(port))) {
    if (explicit)
      throw new DemoUsageError(
        `${flag}: port ${port} is in use on 127.0.0.1; choose another, or leave the flag out to get a free one`,
      );
    do port = await freePort();
    while (taken.has(port));
  }
  taken.add(port);
  return port;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Serial and Modbus devices need socat; without it the demo goes on with the others and says why. */
function withoutSerialIfNoSocat(plant: SimConfig, say: (line: string) => void): SimConfig {
  if (existsSync(SOCAT_BIN)) return plant;
  say(
    `socat not found at ${SOCAT_BIN}: the serial and Modbus devices are left out (Debian/Ubuntu: apt-get install socat)`,
  );
  return { ...plant, devices: plant.devices.filter((d) => d.transport !== 'serial' && d.transport !== 'modbus') };
}

class Interrupted extends Error {}
