/** A progress bar on stderr for long byte-counted work (writing and verifying a card). */
import { Presets, SingleBar } from 'cli-progress';

export interface Progress {
  update(done: number): void;
  stop(): void;
}

const MiB = 1024 * 1024;

/** A bar when stderr is a terminal; otherwise a line every few seconds (CI logs, pipes). */
export function progressBar(label: string, total: number): Progress {
  const bar = new SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {doneMiB}/{totalMiB} MiB | {rate} MiB/s | ETA {eta_formatted}`,
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  const started = Date.now();
  const payload = (done: number) => ({
    doneMiB: (done / MiB).toFixed(0),
    totalMiB: (total / MiB).toFixed(0),
    rate: (done / MiB / Math.max((Date.now() - started) / 1000, 0.001)).toFixed(1),
  });
  bar.start(total, 0, payload(0));
  return {
    update: (done) => bar.update(done, payload(done)),
    stop: () => bar.stop(),
  };
}

/** No output, for library callers and tests that only want the result. */
export const silentProgress = (): Progress => ({ update: () => undefined, stop: () => undefined });
