/** `sensorgate buffer stats|quarantine` (docs/reference/cli.md): what the local buffer holds. */
import type { Command } from 'commander';
import { readQuarantined, readStats } from '../buffer/read-only.js';
import { configOption, configOrExit } from './config-or-exit.js';
import { action, exitWithProblems } from './exit.js';

/** A row count the user typed: a whole number from 1 up (SQLite's integers bound it), or a refusal naming the flag. */
function rowLimit(text: string): number {
  const n = Number(text);
  if (/^\d+$/.test(text.trim()) && n >= 1 && Number.isSafeInteger(n)) return n;
  return exitWithProblems('buffer quarantine', [
    `--limit: expected a whole number of rows (1 or more), found "${text}"`,
  ]);
}

export function registerBuffer(program: Command): void {
  const buffer = program.command('buffer').description('inspect the local buffer');

  buffer
    .command('stats')
    .description('print {"depth","bytes","oldestTs","nextSeq"} of the buffer as JSON')
    .addOption(configOption())
    .action(
      action('buffer stats', async (opts: { config: string }) => {
        const cfg = await configOrExit(opts.config);
        process.stdout.write(`${JSON.stringify(readStats(cfg.gateway.dataDir))}\n`);
      }),
    );

  buffer
    .command('quarantine')
    .description('print rejected input kept for diagnosis, newest first, one JSON object per line')
    .addOption(configOption())
    .option('-n, --limit <n>', 'how many rows (newest first)', '100')
    .action(
      action('buffer quarantine', async (opts: { config: string; limit: string }) => {
        const limit = rowLimit(opts.limit);
        const cfg = await configOrExit(opts.config);
        for (const q of readQuarantined(cfg.gateway.dataDir, limit)) {
          process.stdout.write(`${JSON.stringify({ ...q, payload: q.payload?.toString('utf8') ?? null })}\n`);
        }
      }),
    );
}
