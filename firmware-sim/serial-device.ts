/**
 * A serial sensor on a real pseudo-terminal: it writes CONTRACT §3 line frames or §4 JSON lines
 * into its end of a socat pair, and the gateway opens the other end as it would /dev/ttyUSB0.
 * Unplugging kills socat, so the gateway's device node really disappears, and plugging back
 * re-creates it under the same path. Like a UART, it never waits for the line: while an earlier
 * write has not drained (nobody reading the other end), new samples are dropped and counted.
 */
import { join } from 'node:path';
import type { SerialPort } from 'serialport';
import { openSerialPort } from '../drivers/serial/port.js';
import type { DeviceConfig } from './config.js';
import { SimDevice, type DeviceEnv } from './device.js';
import type { Firmware, Tick } from './firmware.js';
import { ptyPair, type PtyPair } from './pty.js';
import type { Random } from './random.js';
import { encodeSerialTick } from './wire.js';

type SerialConfig = Extract<DeviceConfig, { transport: 'serial' }>;

export class SerialSimDevice extends SimDevice {
  /** The gateway's end. */
  readonly path: string;
  private readonly devicePath: string;
  private pty?: PtyPair;
  private port?: SerialPort;
  private unplugged = false;
  private writing = false;

  constructor(readonly cfg: SerialConfig, firmware: Firmware, env: DeviceEnv, private readonly random: Random, devDir: string) {
    super(cfg, firmware, env);
    this.path = join(devDir, cfg.id);
    this.devicePath = join(devDir, `${cfg.id}.sim`);
  }

  async open(): Promise<void> {
    this.pty = await ptyPair({ a: this.path, b: this.devicePath });
    await this.plugIn();
  }

  protected async close(): Promise<void> {
    await this.closePort();
    await this.pty?.destroy();
  }

  protected async emit(tick: Tick): Promise<void> {
    const { started, active } = tick.faults;
    if (started.includes('unplug') && !this.unplugged) {
      this.count('unplug');
      this.unplugged = true;
      await this.closePort();
      await this.pty!.stop();
    } else if (this.unplugged && !active.has('unplug')) {
      // Plugged back (tried again on the next tick should that fail).
      await this.pty!.start();
      await this.plugIn();
      this.unplugged = false;
    }
    if (started.includes('dropout') && !this.unplugged) this.count('dropout');
    // Unplugged, silent, or the line still busy with the last write (nobody reading): not sent.
    if (this.unplugged || active.has('dropout') || !this.port || this.writing) {
      this.stats.lost += tick.samples.length;
      return;
    }
    const c = this.cfg;
    const out = encodeSerialTick(tick, { sensor: this.sensor, format: c.format, checksum: c.checksum, timestamps: c.timestamps, metrics: this.firmware.metrics }, this.random);
    for (const [fault, n] of Object.entries(out.corrupted)) this.count(fault as keyof typeof out.corrupted, n);
    this.countSampleFaults(tick);
    this.stats.sent += out.units.length;
    this.stats.readings += out.readings;
    const port = this.port;
    this.writing = true;
    port.write(out.bytes);
    port.drain(() => { if (this.port === port) this.writing = false; });
  }

  describe(): string {
    const c = this.cfg;
    return `serial ${c.format}  ${this.path}  (${c.baudRate} 8N1${c.format === 'line' && c.checksum ? ', checksums' : ''})`;
  }

  source(): Record<string, unknown> {
    const c = this.cfg;
    return { id: c.id, driver: 'serial', path: this.path, baudRate: c.baudRate, format: c.format, ...(c.format === 'line' ? { requireChecksum: c.checksum } : {}) };
  }

  private async plugIn(): Promise<void> {
    const port = await openSerialPort({ path: this.devicePath, baudRate: this.cfg.baudRate, dataBits: 8, parity: 'none', stopBits: 1 });
    // The other end vanishing is an unplug we make ourselves; nothing to report.
    port.on('error', () => undefined);
    this.port = port;
    this.writing = false;
  }

  private async closePort(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((r) => port.close(() => r()));
  }
}
