/**
 * A set of simulated devices built from a SimConfig: each with its own seeded streams (forked from
 * the config's seed by device id, so devices do not disturb each other's values), started and
 * stopped together, able to say where it is and which gateway source reads it.
 */
import type { DeviceConfig, SimConfig } from './config.js';
import type { DeviceEnv, SimDevice } from './device.js';
import { FaultPlan } from './faults.js';
import { Firmware } from './firmware.js';
import type { SimGpioChip } from './gpio-chip.js';
import { GpioSimDevice } from './gpio-device.js';
import { ModbusSimDevice, ModbusTcpSimDevice } from './modbus-device.js';
import { createModel } from './models/create.js';
import { MqttSimDevice } from './mqtt-device.js';
import { type Random, seeded } from './random.js';
import { SerialSimDevice } from './serial-device.js';
import { SparkplugSimDevice } from './sparkplug-device.js';

export interface SimulatorOptions {
  /** Where serial and Modbus RTU devices make their pseudo-terminal links (`<dir>/<id>`). */
  devDir: string;
  /** The simulated chip GPIO devices of a gateway group are wired to; none: GPIO devices are refused. */
  gpioChip?: (gateway: string | undefined) => SimGpioChip;
  clock?: () => number;
  onError?: (device: string, err: Error) => void;
}

export class Simulator {
  readonly devices: SimDevice[];

  constructor(
    readonly config: SimConfig,
    o: SimulatorOptions,
  ) {
    const env: DeviceEnv = { clock: o.clock ?? Date.now, onError: o.onError ?? (() => undefined) };
    this.devices = config.devices.map((d) => buildDevice(d, config, o, env));
  }

  /** Open every device's wire, then start them all ticking (so none races ahead of the others). */
  async start(): Promise<void> {
    const opened: SimDevice[] = [];
    try {
      for (const d of this.devices) {
        await d.open();
        opened.push(d);
      }
    } catch (err) {
      for (const d of opened) await d.stop().catch(() => undefined);
      throw err;
    }
    for (const d of this.devices) d.run();
  }

  async stop(): Promise<void> {
    await Promise.all(this.devices.map((d) => d.stop().catch(() => undefined)));
  }

  /** The devices a gateway group reads (undefined: those that name no gateway). */
  group(gateway: string | undefined): SimDevice[] {
    return this.devices.filter((d) => d.config.gateway === gateway);
  }

  /** The gateway groups, in config order. */
  groups(): Array<string | undefined> {
    return [...new Set(this.devices.map((d) => d.config.gateway))];
  }
}

/** A device's firmware, and the stream its wire faults draw from, forked from the seed by device id. */
export function firmwareFor(d: DeviceConfig, cfg: SimConfig): { firmware: Firmware; wire: Random } {
  const random = seeded(cfg.seed).fork(`device/${d.id}`);
  const plan = new FaultPlan(d.faults, d.intervalMs, random.fork('faults'));
  const firmware = new Firmware(
    createModel(d.model, random.fork('model')),
    plan,
    { intervalMs: d.intervalMs, timeScale: d.timeScale ?? cfg.timeScale },
    random.fork('spikes'),
  );
  return { firmware, wire: random.fork('wire') };
}

function buildDevice(d: DeviceConfig, cfg: SimConfig, o: SimulatorOptions, env: DeviceEnv): SimDevice {
  const { firmware, wire } = firmwareFor(d, cfg);
  switch (d.transport) {
    case 'serial':
      return new SerialSimDevice(d, firmware, env, wire, o.devDir);
    case 'modbus':
      return new ModbusSimDevice(d, firmware, env, wire, o.devDir);
    case 'modbus-tcp':
      return new ModbusTcpSimDevice(d, firmware, env, wire);
    case 'mqtt':
      // The schema requires one of the two.
      return new MqttSimDevice(d, firmware, env, wire, d.url ?? cfg.mqttUrl!);
    case 'sparkplug':
      return new SparkplugSimDevice(d, firmware, env, d.url ?? cfg.mqttUrl!);
    case 'gpio':
      if (!o.gpioChip)
        throw new Error(
          `device "${d.id}": GPIO devices need a gateway in the same process (sensorgate demo, or a test) to read the simulated chip`,
        );
      return new GpioSimDevice(d, firmware, env, o.gpioChip(d.gateway));
  }
}
