/**
 * How commands end when they cannot do their work (docs/reference/cli.md): input they refuse (a config,
 * an inventory, flags) is one line per problem on stderr and exit code 2; anything else is one line
 * naming the command and exit code 1.
 */
import { ConfigError } from '../config/config-error.js';

/** Exit code for input a command refuses. */
const EXIT_CONFIG = 2;

/** Print each problem on its own line, prefixed as the user will search for it, and exit 2. */
export function exitWithProblems(prefix: string, problems: readonly string[]): never {
  for (const line of problems) process.stderr.write(`${prefix}: ${line}\n`);
  process.exit(EXIT_CONFIG);
}

/**
 * Run a command's work. A refused config prints one line per problem and exits 2, as `run`
 * does; any other failure prints its message (with the tool output it carries) and exits 1.
 */
export function action<A extends unknown[]>(
  name: string,
  work: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await work(...args);
    } catch (err) {
      if (err instanceof ConfigError) exitWithProblems('config', err.problems);
      process.stderr.write(`sensorgate ${name}: ${(err as Error).message}\n`);
      process.exit(1);
    }
  };
}
