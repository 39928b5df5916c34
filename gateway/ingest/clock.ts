/**
 * Honest timestamps on hardware without a real-time clock: every reading says which boot it came
 * from and whether the system clock was synchronised when it was stamped.
 */

import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';

/** Before this the clock is certainly wrong (a Pi boots at its last saved time or 1970). */
const PLAUSIBLE_AFTER = Date.UTC(2024, 0, 1);
/** systemd-timesyncd touches this file once it has synchronised. */
const TIMESYNC_FLAG = '/run/systemd/timesync/synchronized';

export interface Clock {
  readonly bootId: string;
  now(): number;
  synced(): boolean;
}

export function systemClock(): Clock {
  let bootId: string;
  try {
    bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    bootId = randomUUID(); // not Linux: one id per process is the best we can say
  }
  let synced = false;
  let checkedAt = -Infinity;
  return {
    bootId,
    now: () => Date.now(),
    synced() {
      // Cheap to call per reading: re-check the flag at most once a second (measured on the
      // monotonic clock, which an NTP step does not move), and once synced stay synced for this boot.
      const mono = performance.now();
      if (!synced && mono - checkedAt > 1000) {
        checkedAt = mono;
        synced = Date.now() > PLAUSIBLE_AFTER && (existsSync(TIMESYNC_FLAG) || !existsSync('/run/systemd/system'));
      }
      return synced;
    },
  };
}
