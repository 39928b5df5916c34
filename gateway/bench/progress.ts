/**
 * Progress on stderr (the report goes to stdout): a line per phase with the bench's elapsed time,
 * and a progress bar while readings flow (a line every few seconds when stderr is not a terminal).
 */
import cliProgress from 'cli-progress';

const started = Date.now();

function clock(): string {
  const s = Math.round((Date.now() - started) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export function phase(title: string): void {
  process.stderr.write(`[${clock()}] ${title}\n`);
}

export function note(text: string): void {
  process.stderr.write(`        ${text}\n`);
}

export interface Counter {
  update(value: number): void;
  stop(): void;
}

export function counter(label: string, total: number): Counter {
  const bar = new cliProgress.SingleBar(
    {
      format: `        {bar} {value}/{total} ${label} ({duration}s)`,
      stream: process.stderr,
      barsize: 30,
      hideCursor: true,
      clearOnComplete: true,
      noTTYOutput: true,
      notTTYSchedule: 5000,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return { update: (v) => bar.update(Math.min(v, total)), stop: () => bar.stop() };
}
