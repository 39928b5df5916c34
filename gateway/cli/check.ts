/** `sensorgate check` (docs/reference/cli.md): validate a config and print it resolved. */
import type { Command } from 'commander';
import { configOption, configOrExit } from './config-or-exit.js';

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description(
      'validate a config and print the resolved result (defaults filled in, environment applied, secrets shown as "***")',
    )
    .addOption(configOption())
    .action(async (opts: { config: string }) => {
      const cfg = await configOrExit(opts.config);
      // Loaded here, not with the program: `run` is registered beside this and never needs them.
      const [{ stringify }, { redactSecrets }] = await Promise.all([import('yaml'), import('../config/config.js')]);
      process.stdout.write(stringify(redactSecrets(cfg)));
    });
}
