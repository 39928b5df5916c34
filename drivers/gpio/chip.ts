/**
 * The GPIO hardware boundary: a chip hands out input lines. Backends: onoff over sysfs
 * (onoff-chip.ts), the simulated chip in firmware-sim; a character-device (libgpiod) backend
 * can follow behind the same two interfaces.
 */
export type Level = 0 | 1;
export type Edge = 'rising' | 'falling' | 'both';

export interface LineOptions {
  /** Which transitions the line reports (in logical terms, after activeLow). */
  edge: Edge;
  /** Invert the level: a switch to ground with a pull-up reads 1 when closed. */
  activeLow: boolean;
}

export interface GpioLine {
  /** What the line is, for the status page ("line 529 of pinctrl-bcm2711"). */
  readonly name: string;
  read(): Level;
  /**
   * Report each transition of the requested kind: the level after it and when it happened, in
   * `performance.now()` milliseconds (monotonic, so a clock step cannot reorder events).
   */
  watch(onEdge: (level: Level, ts: number) => void, onError: (err: Error) => void): void;
  close(): void;
}

export interface GpioChip {
  /** Open BCM pin `pin` (the number on the Pi's pinout) as an input. Throws GpioUnavailableError. */
  open(pin: number, opts: LineOptions): GpioLine;
}

/**
 * Opens the chip a GPIO source reads (`label`: its chipLabel). On a device that is openOnoffChip;
 * `sensorgate demo` and tests hand the gateway one that opens the simulated chip instead.
 */
export type OpenGpioChip = (o: { label?: string }) => Promise<GpioChip>;

/** This machine cannot provide the GPIO asked for (no sysfs GPIO, no such pin, no permission). */
export class GpioUnavailableError extends Error {
  override readonly name = 'GpioUnavailableError';
}
