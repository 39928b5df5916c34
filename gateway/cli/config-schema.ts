/** `sensorgate config schema` (docs/reference/cli.md): the JSON Schema of the gateway config. */
import type { Command } from 'commander';
import { configJsonSchema } from '../config/config.js';

export function registerConfigSchema(program: Command): void {
  program
    .command('config')
    .description('about the config file format')
    .command('schema')
    .description('print the JSON Schema of the gateway config (for editors and CI)')
    .action(() => {
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
}
