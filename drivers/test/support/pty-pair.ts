/**
 * Test helper: a pair of real pseudo-terminals joined by socat (see firmware-sim/pty.ts, which
 * the simulated devices use too). Stopping it removes both ends, as unplugging a USB serial
 * adapter removes its device node; starting it again re-creates them under the same names.
 */
import { readlinkSync, renameSync, symlinkSync } from 'node:fs';

export { type PtyPair, ptyPair, SOCAT_BIN } from '../../../firmware-sim/pty.js';

/**
 * Point the link `path` at the device behind the link `to`, atomically, as udev moves a
 * /dev/serial/by-id link when an adapter re-enumerates: same path, another device.
 */
export function repoint(path: string, to: string): void {
  const swap = `${path}.swap`;
  symlinkSync(readlinkSync(to), swap);
  renameSync(swap, path);
}
