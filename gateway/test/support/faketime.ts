/**
 * libfaketime (Debian package faketime), preloaded into a gateway process through its environment.
 * Preloaded, not through the `faketime` command: that command forks the program it runs, so a
 * SIGKILL meant for the gateway killed only the wrapper and left the gateway running.
 */
import { existsSync } from 'node:fs';

/** The multi-threaded variant: Node runs threads of its own. */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';

/** Fails with the package to install when libfaketime is missing. */
export function libfaketime(): string {
  if (!existsSync(LIBFAKETIME)) throw new Error(`${LIBFAKETIME} is missing (Debian package faketime)`);
  return LIBFAKETIME;
}
