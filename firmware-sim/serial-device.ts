/**
 * A serial sensor on a real pseudo-terminal (see PtySimDevice): it writes line frames (docs/reference/wire-formats.md)
 * or JSON lines into its end. Like a UART, it never waits for the line: while an earlier write
 * has not drained (nobody reading the other end), new samples are dropped and counted.
 */
import type { SerialPort } from 'serialport';
import { closeSerialPort, openSerialPort } from '../drivers/serial/port.js';
import type { DeviceConfig } from './config.js';
import type { DeviceEnv } from './device.js';
import type { Firmware, Tick } from './firmware.js';
import { PtySimDevice } from './pty-device.js';
import type { Random } from './random.js';
import { encodeSerialTick } from './wire.js';

type SerialConfig = Extract<DeviceConfig, { transport: 'serial' }>;

export class SerialSimDevice extends PtySimDevice {
  private port?: SerialPort;
  private writing = false;

  constructor(
    readonly cfg: SerialConfig,
    firmware: Firmware,
    env: DeviceEnv,
    private readonly random: Random,
    devDir: string,
  ) {
    super(cfg, firmware, env, devDir);
  }

  protected async emit(tick: Tick): Promise<void> {
    await this.followUnplug(tick);
    const { started, active } = tick.faults;
    if (started.includes('dropout') && !this.unplugged) this.count('dropout');
    // Unplugged, silent, or the line still busy with the last write (nobody reading): not sent.
    if (this.unplugged || active.has('dropout') || !this.port || this.writing) {
      this.stats.lost += tick.samples.length;
      return;
    }
    const c = this.cfg;
    const out = encodeSerialTick(
      tick,
      {
        sensor: this.sensor,
        format: c.format,
        checksum: c.checksum,
        timestamps: c.timestamps,
        metrics: this.firmware.metrics,
      },
      this.random,
    );
    for (const [fault, n] of Object.entries(out.corrupted)) this.count(fault as keyof typeof out.corrupted, n);
    this.countSampleFaults(tick);
    this.stats.sent += out.units.length;
    this.stats.readings += out.readings;
    const port = this.port;
    this.writing = true;
    port.write(out.bytes);
    port.drain(() => {
      if (this.port === port) this.writing = false;
    });
  }

  describe(): string {
    const c = this.cfg;
    return `serial ${c.format}  ${this.path}  (${c.baudRate} 8N1${c.format === 'line' && c.checksum ? ', checksums' : ''})`;
  }

  source(): Record<string, unknown> {
    const c = this.cfg;
    return {
      id: c.id,
      driver: 'serial',
      path: this.path,
      baudRate: c.baudRate,
      format: c.format,
      ...(c.format === 'line' ? { requireChecksum: c.checksum } : {}),
    };
  }

  protected async plugIn(): Promise<void> {
    const port = await openSerialPort({
      path: this.devicePath,
      baudRate: this.cfg.baudRate,
      dataBits: 8,
      parity: 'none',
      stopBits: 1,
    });
    // The other end vanishing is an unplug we make ourselves; nothing to report.
    port.on('error', () => undefined);
    this.port = port;
    this.writing = false;
  }

  protected async plugOut(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await closeSerialPort(port);
  }
}
