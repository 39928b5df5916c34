/** `sensorgate check` (docs/reference/cli.md): validate a config and print it resolved. */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { redactSecrets } from '../config/config.js';
import { configOption, configOrExit } from './config-or-exit.js';

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description(
      'validate a config and print the resolved result (defaults filled in, environment applied, secrets shown as "***")',
    )
    .addOption(configOption())
    .action((opts: { config: string }) => {
      process.stdout.write(stringify(redactSecrets(configOrExit(opts.config))));
    });
}
