/**
 * A Modbus RTU slave on a real pseudo-terminal (ModbusSlave), serving its model's metrics from
 * registers that each tick updates. The gateway's master polls at its own pace; bus faults are
 * queued on one register for its next read (so each becomes exactly one counted rejection), a
 * dropout makes the slave answer nothing, and an unplug takes the device node away (PtySimDevice).
 */
import { registerCount } from '../drivers/modbus/registers.js';
import type { DeviceConfig, RegisterConfig } from './config.js';
import type { DeviceEnv } from './device.js';
import type { Firmware, Tick } from './firmware.js';
import { ModbusSlave, type SlaveFault } from './modbus-slave.js';
import { PtySimDevice } from './pty-device.js';
import type { Random } from './random.js';

type ModbusConfig = Extract<DeviceConfig, { transport: 'modbus' }>;

const BUS_FAULTS = { bad_crc: 'bad_crc', timeout: 'silent', busy: 'busy' } as const satisfies Record<string, SlaveFault>;

/** What a raw register value may hold, by type. */
const RANGE = { int16: [-32768, 32767], uint16: [0, 65535], int32: [-2147483648, 2147483647], uint32: [0, 4294967295], float32: [-Infinity, Infinity] } as const;

export class ModbusSimDevice extends PtySimDevice {
  readonly registers: readonly RegisterConfig[];
  private readonly slave: ModbusSlave;

  constructor(readonly cfg: ModbusConfig, firmware: Firmware, env: DeviceEnv, private readonly random: Random, devDir: string) {
    super(cfg, firmware, env, devDir);
    // Default map: every metric as a float32 in consecutive input registers.
    this.registers = cfg.registers ?? firmware.metrics.map((m, i) => ({ metric: m.name, table: 'input', address: 2 * i, type: 'float32', wordOrder: 'big', scale: 1 }));
    this.slave = new ModbusSlave({ path: this.devicePath, baudRate: cfg.baudRate, unitId: cfg.unitId });
  }

  protected plugIn(): Promise<void> {
    return this.slave.start();
  }

  protected plugOut(): Promise<void> {
    return this.slave.stop();
  }

  protected async emit(tick: Tick): Promise<void> {
    await this.followUnplug(tick);
    const slave = this.slave;
    const { started, ended, active } = tick.faults;
    if (started.includes('dropout')) {
      this.count('dropout');
      for (const r of this.registers) slave.fault(r.table, r.address, 'silent');
    } else if (ended.includes('dropout')) {
      for (const r of this.registers) slave.fault(r.table, r.address, undefined);
    }
    if (this.unplugged) {
      this.stats.lost += tick.samples.length;
      return;
    }
    // A burst means nothing to registers: the master reads the latest values.
    const sample = tick.samples.at(-1)!;
    for (const r of this.registers) {
      const [lo, hi] = RANGE[r.type];
      const raw = r.type === 'float32' ? sample.values[r.metric]! / r.scale : Math.round(sample.values[r.metric]! / r.scale);
      slave.set(r.table, r.address, Math.min(hi, Math.max(lo, raw)), r.type, r.wordOrder);
    }
    this.stats.sent++;
    this.countSampleFaults(tick);
    if (active.has('dropout')) return;
    for (const [fault, slaveFault] of Object.entries(BUS_FAULTS)) {
      if (!active.has(fault as keyof typeof BUS_FAULTS)) continue;
      const r = this.registers[this.random.int(this.registers.length)]!;
      slave.faultNext(r.table, r.address, slaveFault);
      this.count(fault as keyof typeof BUS_FAULTS);
    }
  }

  /** One-shot bus faults the master has not read yet. */
  get pendingFaults(): number {
    return this.slave.pendingFaults;
  }

  describe(): string {
    const regs = this.registers.map((r) => `${r.table} ${r.address}${registerCount(r.type) === 2 ? `-${r.address + 1}` : ''} ${r.metric} ${r.type}${r.scale !== 1 ? ` ×${r.scale}` : ''}`);
    return `modbus rtu  ${this.path}  (${this.cfg.baudRate} 8N1, unit ${this.cfg.unitId}: ${regs.join(', ')})`;
  }

  source(): Record<string, unknown> {
    const c = this.cfg;
    const units = new Map(this.firmware.metrics.map((m) => [m.name, m.unit]));
    return {
      id: c.id, driver: 'modbus', path: this.path, baudRate: c.baudRate, unitId: c.unitId,
      pollIntervalMs: c.intervalMs, timeoutMs: 250,
      registers: this.registers.map((r) => ({
        sensor: this.sensor, metric: r.metric, ...(units.get(r.metric) ? { unit: units.get(r.metric) } : {}),
        table: r.table, address: r.address, type: r.type, wordOrder: r.wordOrder, scale: r.scale,
      })),
    };
  }
}
