/**
 * How the commands that run on a gateway config (run, check, buffer) take and read it. The config
 * is validated in a worker thread (gateway/config/load-in-worker.ts), so that the daemon does not
 * keep the validator loaded; registering these commands loads none of it.
 */
import { Option } from 'commander';
import { ConfigError } from '../config/config-error.js';
import { loadConfigInWorker } from '../config/load-in-worker.js';
import type { Config } from '../config/schema.js';
import { exitWithProblems } from './exit.js';

/** `-c, --config <file>`, required. */
export function configOption(): Option {
  return new Option(
    '-c, --config <file>',
    'gateway config (YAML); SENSORGATE_* variables override its keys',
  ).makeOptionMandatory();
}

/** The gateway config in `file`, or its problems printed, one line each, and exit 2. */
export async function configOrExit(file: string): Promise<Readonly<Config>> {
  try {
    return await loadConfigInWorker(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    exitWithProblems('config', err.problems);
  }
}
