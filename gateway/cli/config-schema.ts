/** `sensorgate config schema` (docs/reference/cli.md): the JSON Schema of the gateway config. */
import type { Command } from 'commander';

export function registerConfigSchema(program: Command): void {
  program
    .command('config')
    .description('about the config file format')
    .command('schema')
    .description('print the JSON Schema of the gateway config (for editors and CI)')
    .action(async () => {
      // Loaded here, not with the program: `run` is registered beside this and never needs the schema.
      const { configJsonSchema } = await import('../config/config.js');
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
    });
}
