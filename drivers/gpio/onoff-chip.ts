/**
 * The sysfs GPIO backend, a thin layer over onoff. onoff (and its native epoll module) is loaded
 * only when a GPIO source uses this chip.
 */
import { type GpioChip, GpioUnavailableError } from './chip.js';
import { readSysfsChips, SYSFS_GPIO, sysfsLine } from './sysfs.js';

export interface OnoffChipOptions {
  /** The gpiochip label to use instead of the Pi header's chip. */
  label?: string;
  root?: string;
}

export async function openOnoffChip(o: OnoffChipOptions = {}): Promise<GpioChip> {
  const chips = readSysfsChips(o.root ?? SYSFS_GPIO);
  let Gpio: typeof import('onoff').Gpio;
  try {
    ({ Gpio } = await import('onoff'));
  } catch (err) {
    throw new GpioUnavailableError(`cannot load onoff: ${(err as Error).message}`);
  }
  return {
    open(pin, opts) {
      const { line, chip } = sysfsLine(pin, chips, o.label);
      let gpio: InstanceType<typeof Gpio>;
      try {
        gpio = new Gpio(line, 'in', opts.edge, { activeLow: opts.activeLow });
      } catch (err) {
        throw new GpioUnavailableError(
          `cannot open GPIO line ${line} (BCM ${pin} on ${chip.label}): ${(err as Error).message}`,
        );
      }
      return {
        name: `line ${line} of ${chip.label} (BCM ${pin})`,
        read: () => gpio.readSync(),
        // sysfs gives no event time: the callback's time is the closest there is.
        watch: (onEdge, onError) => gpio.watch((err, value) => (err ? onError(err) : onEdge(value, performance.now()))),
        close: () => gpio.unexport(),
      };
    },
  };
}
