/**
 * What a physical model is to a simulated device: a set of metrics, and a step that advances
 * simulated time and reads every metric as the device's sensors would (noise included). Models
 * are pure apart from the seeded randomness they are given, so a seed replays them exactly.
 */
export interface MetricInfo {
  name: string;
  unit?: string;
  /** Digits after the point the device reports (its ADC and firmware resolution). */
  decimals: number;
}

export interface Model {
  readonly metrics: readonly MetricInfo[];
  /** Advance by `dtMs` of simulated time; returns the measured value of every metric. */
  step(dtMs: number): Record<string, number>;
}

/** Milliseconds of simulated time in common units, for model defaults. */
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
