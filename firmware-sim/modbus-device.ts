/**
 * Modbus slaves serving a model's metrics from registers that each tick updates: RTU on a real
 * pseudo-terminal (ModbusSimDevice) and Modbus TCP on a real socket (ModbusTcpSimDevice). The
 * gateway's master polls at its own pace; bus faults are queued on one register for its next read
 * (so each becomes exactly one counted rejection), a dropout makes the slave answer nothing, an
 * unplug takes the RTU device node away (PtySimDevice) and a disconnect switches the TCP slave off.
 */
import { registerCount } from '../drivers/modbus/registers.js';
import type { DeviceConfig, FaultType, RegisterConfig } from './config.js';
import { type DeviceEnv, type DeviceStats, SimDevice } from './device.js';
import type { Firmware, Tick } from './firmware.js';
import { ModbusSlave, ModbusTcpSlave, type RegisterSlave, type SlaveFault } from './modbus-slave.js';
import { PtySimDevice } from './pty-device.js';
import type { Random } from './random.js';

type ModbusConfig = Extract<DeviceConfig, { transport: 'modbus' }>;
type ModbusTcpConfig = Extract<DeviceConfig, { transport: 'modbus-tcp' }>;

const BUS_FAULTS = { bad_crc: 'bad_crc', timeout: 'silent', busy: 'busy' } as const satisfies Record<
  string,
  SlaveFault
>;

/** What a raw register value may hold, by type. */
const RANGE = {
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  float32: [-Infinity, Infinity],
} as const;

/** The register map and tick handling both Modbus devices share. */
class RegisterServer {
  readonly registers: readonly RegisterConfig[];

  constructor(
    cfg: ModbusConfig | ModbusTcpConfig,
    private readonly firmware: Firmware,
    readonly slave: RegisterSlave,
    private readonly random: Random,
  ) {
    // Default map: every metric as a float32 in consecutive input registers.
    this.registers =
      cfg.registers ??
      firmware.metrics.map((m, i) => ({
        metric: m.name,
        table: 'input',
        address: 2 * i,
        type: 'float32',
        wordOrder: 'big',
        scale: 1,
      }));
  }

  /** Dropouts start and end even while the device is away, so that its slave answers as it should when back. */
  dropouts(tick: Tick, count: (f: FaultType) => void): void {
    const { started, ended } = tick.faults;
    if (started.includes('dropout')) {
      count('dropout');
      for (const r of this.registers) this.slave.fault(r.table, r.address, 'silent');
    } else if (ended.includes('dropout')) {
      for (const r of this.registers) this.slave.fault(r.table, r.address, undefined);
    }
  }

  /** The latest sample into the registers (a burst means nothing to registers), and this tick's bus faults. */
  serve(tick: Tick, stats: DeviceStats, count: (f: FaultType) => void): void {
    const sample = tick.samples.at(-1)!;
    for (const r of this.registers) {
      const [lo, hi] = RANGE[r.type];
      const raw =
        r.type === 'float32' ? sample.values[r.metric]! / r.scale : Math.round(sample.values[r.metric]! / r.scale);
      this.slave.set(r.table, r.address, Math.min(hi, Math.max(lo, raw)), r.type, r.wordOrder);
    }
    stats.sent++;
    if (tick.faults.active.has('dropout')) return;
    for (const [fault, slaveFault] of Object.entries(BUS_FAULTS)) {
      if (!tick.faults.active.has(fault as keyof typeof BUS_FAULTS)) continue;
      const r = this.registers[this.random.int(this.registers.length)]!;
      this.slave.faultNext(r.table, r.address, slaveFault);
      count(fault as keyof typeof BUS_FAULTS);
    }
  }

  describe(): string {
    return this.registers
      .map(
        (r) =>
          `${r.table} ${r.address}${registerCount(r.type) === 2 ? `-${r.address + 1}` : ''} ${r.metric} ${r.type}${r.scale !== 1 ? ` ×${r.scale}` : ''}`,
      )
      .join(', ');
  }

  /** The `registers` of the gateway source that reads this device. */
  source(sensor: string): Array<Record<string, unknown>> {
    const units = new Map(this.firmware.metrics.map((m) => [m.name, m.unit]));
    return this.registers.map((r) => ({
      sensor,
      metric: r.metric,
      ...(units.get(r.metric) ? { unit: units.get(r.metric) } : {}),
      table: r.table,
      address: r.address,
      type: r.type,
      wordOrder: r.wordOrder,
      scale: r.scale,
    }));
  }
}

/** Modbus RTU on a pseudo-terminal. */
export class ModbusSimDevice extends PtySimDevice {
  private readonly server: RegisterServer;

  constructor(
    readonly cfg: ModbusConfig,
    firmware: Firmware,
    env: DeviceEnv,
    random: Random,
    devDir: string,
  ) {
    super(cfg, firmware, env, devDir);
    this.server = new RegisterServer(
      cfg,
      firmware,
      new ModbusSlave({ path: this.devicePath, baudRate: cfg.baudRate, unitId: cfg.unitId }),
      random,
    );
  }

  get registers(): readonly RegisterConfig[] {
    return this.server.registers;
  }

  protected plugIn(): Promise<void> {
    return (this.server.slave as ModbusSlave).start();
  }

  protected plugOut(): Promise<void> {
    return (this.server.slave as ModbusSlave).stop();
  }

  protected async emit(tick: Tick): Promise<void> {
    await this.followUnplug(tick);
    this.server.dropouts(tick, (f) => this.count(f));
    if (this.unplugged) {
      this.stats.lost += tick.samples.length;
      return;
    }
    this.countSampleFaults(tick);
    this.server.serve(tick, this.stats, (f) => this.count(f));
  }

  /** One-shot bus faults the master has not read yet. */
  get pendingFaults(): number {
    return this.server.slave.pendingFaults;
  }

  describe(): string {
    return `modbus rtu  ${this.path}  (${this.cfg.baudRate} 8N1, unit ${this.cfg.unitId}: ${this.server.describe()})`;
  }

  source(): Record<string, unknown> {
    const c = this.cfg;
    return {
      id: c.id,
      driver: 'modbus',
      path: this.path,
      baudRate: c.baudRate,
      unitId: c.unitId,
      pollIntervalMs: c.intervalMs,
      timeoutMs: 250,
      registers: this.server.source(this.sensor),
    };
  }
}

/** Modbus TCP on 127.0.0.1; the `disconnect` fault switches the slave off (connections dropped, connects refused). */
export class ModbusTcpSimDevice extends SimDevice {
  private readonly server: RegisterServer;
  private readonly slave: ModbusTcpSlave;
  private off = false;

  constructor(
    readonly cfg: ModbusTcpConfig,
    firmware: Firmware,
    env: DeviceEnv,
    random: Random,
  ) {
    super(cfg, firmware, env);
    this.slave = new ModbusTcpSlave({ port: cfg.port, unitId: cfg.unitId });
    this.server = new RegisterServer(cfg, firmware, this.slave, random);
  }

  get registers(): readonly RegisterConfig[] {
    return this.server.registers;
  }

  get port(): number {
    return this.slave.port;
  }

  open(): Promise<void> {
    return this.slave.start();
  }

  protected close(): Promise<void> {
    return this.slave.stop();
  }

  protected async emit(tick: Tick): Promise<void> {
    const { started, active } = tick.faults;
    if (started.includes('disconnect') && !this.off) {
      this.count('disconnect');
      this.off = true;
      await this.slave.stop();
    } else if (this.off && !active.has('disconnect')) {
      await this.slave.start(); // tried again on the next tick should that fail
      this.off = false;
    }
    this.server.dropouts(tick, (f) => this.count(f));
    if (this.off) {
      this.stats.lost += tick.samples.length;
      return;
    }
    this.countSampleFaults(tick);
    this.server.serve(tick, this.stats, (f) => this.count(f));
  }

  describe(): string {
    return `modbus tcp  ${this.slave.host}:${this.port}  (unit ${this.cfg.unitId}: ${this.server.describe()})`;
  }

  source(): Record<string, unknown> {
    const c = this.cfg;
    return {
      id: c.id,
      driver: 'modbus',
      host: this.slave.host,
      port: this.port,
      unitId: c.unitId,
      pollIntervalMs: c.intervalMs,
      timeoutMs: 250,
      registers: this.server.source(this.sensor),
    };
  }
}
