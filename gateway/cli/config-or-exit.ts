/** How the commands that run on a gateway config (run, check, buffer) take and read it. */
import { Option } from 'commander';
import { type Config, ConfigError, loadConfig } from '../config/config.js';
import { exitWithProblems } from './exit.js';

/** `-c, --config <file>`, required. */
export function configOption(): Option {
  return new Option(
    '-c, --config <file>',
    'gateway config (YAML); SENSORGATE_* variables override its keys',
  ).makeOptionMandatory();
}

/** The gateway config in `file`, or its problems printed, one line each, and exit 2. */
export function configOrExit(file: string): Readonly<Config> {
  try {
    return loadConfig(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    exitWithProblems('config', err.problems);
  }
}
