/**
 * A simulated device on a serial line: a socat pseudo-terminal pair whose `path` end the gateway
 * opens (as it would /dev/ttyUSB0) while the device works on the other. The `unplug` fault kills
 * socat, so the gateway's device node really disappears, and its end re-creates the node under the
 * same path. Subclasses say what being plugged in means on their end (a port writing frames, a
 * Modbus slave answering).
 */
import { join } from 'node:path';
import type { DeviceConfig } from './config.js';
import { type DeviceEnv, SimDevice } from './device.js';
import type { Firmware, Tick } from './firmware.js';
import { type PtyPair, ptyPair } from './pty.js';

export abstract class PtySimDevice extends SimDevice {
  /** The gateway's end. */
  readonly path: string;
  /** The device's end. */
  protected readonly devicePath: string;
  protected unplugged = false;
  private pty?: PtyPair;

  constructor(config: DeviceConfig, firmware: Firmware, env: DeviceEnv, devDir: string) {
    super(config, firmware, env);
    this.path = join(devDir, config.id);
    this.devicePath = join(devDir, `${config.id}.sim`);
  }

  /** Start working on the device's end (the pty exists). */
  protected abstract plugIn(): Promise<void>;
  /** Stop working on it (before the pty goes away). */
  protected abstract plugOut(): Promise<void>;

  async open(): Promise<void> {
    this.pty = await ptyPair({ a: this.path, b: this.devicePath });
    await this.plugIn();
  }

  protected async close(): Promise<void> {
    await this.plugOut();
    await this.pty?.destroy();
  }

  /** Takes the device node away when an unplug starts and brings it back once it has ended. */
  protected async followUnplug(tick: Tick): Promise<void> {
    const { started, active } = tick.faults;
    if (started.includes('unplug') && !this.unplugged) {
      this.count('unplug');
      this.unplugged = true;
      await this.plugOut();
      await this.pty!.stop();
    } else if (this.unplugged && !active.has('unplug')) {
      // Plugged back (tried again on the next tick should that fail).
      await this.pty!.start();
      await this.plugIn();
      this.unplugged = false;
    }
  }
}
