/**
 * Finding the sysfs GPIO line of a BCM pin. Since Linux 6.6 (Raspberry Pi OS Bookworm) sysfs
 * numbers no longer start at 0: the header's chip sits at a base such as 512 (Pi 4, pinctrl-bcm2711)
 * or 571 (Pi 5, whose header is on the RP1 chip), so line = base + pin, never just pin.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GpioUnavailableError } from './chip.js';

export const SYSFS_GPIO = '/sys/class/gpio';

export interface SysfsChip {
  /** Directory name, e.g. gpiochip512. */
  name: string;
  base: number;
  ngpio: number;
  label: string;
}

/** The chips that carry the 40-pin header's BCM numbering, newest Pi first. */
const HEADER_CHIP_LABELS = ['pinctrl-rp1', 'pinctrl-bcm2711', 'pinctrl-bcm2835'];

export function readSysfsChips(root = SYSFS_GPIO): SysfsChip[] {
  let entries: string[];
  try {
    entries = readdirSync(root).filter((e) => e.startsWith('gpiochip'));
  } catch (err) {
    throw new GpioUnavailableError(
      `GPIO is not available on this machine: ${root} ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist (no sysfs GPIO: not a Raspberry Pi, or a kernel without CONFIG_GPIO_SYSFS)' : `cannot be read (${(err as Error).message})`}`,
    );
  }
  return entries.map((name) => {
    const read = (f: string) => readFileSync(join(root, name, f), 'utf8').trim();
    return { name, base: Number(read('base')), ngpio: Number(read('ngpio')), label: read('label') };
  });
}

/** The sysfs line number of BCM `pin`, on the chip labelled `label` or else the header's chip. */
export function sysfsLine(pin: number, chips: readonly SysfsChip[], label?: string): { line: number; chip: SysfsChip } {
  const list = chips.map((c) => `${c.name} "${c.label}"`).join(', ') || 'none';
  const chip =
    label !== undefined
      ? chips.find((c) => c.label === label)
      : HEADER_CHIP_LABELS.map((l) => chips.find((c) => c.label === l)).find((c) => c !== undefined);
  if (!chip) {
    throw new GpioUnavailableError(
      label !== undefined
        ? `no GPIO chip labelled "${label}" (chips: ${list})`
        : `no Raspberry Pi header GPIO chip found (chips: ${list}); set chipLabel to the chip the sensor is wired to`,
    );
  }
  if (!Number.isInteger(pin) || pin < 0 || pin >= chip.ngpio) {
    throw new GpioUnavailableError(
      `pin ${pin} does not exist on ${chip.name} "${chip.label}" (lines 0-${chip.ngpio - 1})`,
    );
  }
  return { line: chip.base + pin, chip };
}
