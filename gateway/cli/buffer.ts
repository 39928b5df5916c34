/** `sensorgate buffer stats|quarantine` (docs/reference/cli.md): what the local buffer holds. */
import type { Command } from 'commander';
import { SqliteBuffer } from '../buffer/sqlite-buffer.js';
import { configOption, configOrExit } from './config-or-exit.js';

export function registerBuffer(program: Command): void {
  const buffer = program.command('buffer').description('inspect the local buffer');

  buffer
    .command('stats')
    .description('print {"depth","bytes","oldestTs","nextSeq"} of the buffer as JSON')
    .addOption(configOption())
    .action((opts: { config: string }) => {
      const cfg = configOrExit(opts.config);
      process.stdout.write(`${JSON.stringify(SqliteBuffer.stats(cfg.gateway.dataDir))}\n`);
    });

  buffer
    .command('quarantine')
    .description('print rejected input kept for diagnosis, newest first, one JSON object per line')
    .addOption(configOption())
    .option('-n, --limit <n>', 'how many rows', '100')
    .action((opts: { config: string; limit: string }) => {
      const cfg = configOrExit(opts.config);
      for (const q of SqliteBuffer.quarantined(cfg.gateway.dataDir, Number(opts.limit))) {
        process.stdout.write(`${JSON.stringify({ ...q, payload: q.payload?.toString('utf8') ?? null })}\n`);
      }
    });
}
