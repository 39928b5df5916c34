/**
 * libfaketime (Debian package faketime), preloaded into a gateway process through its environment.
 * Preloaded, not through the `faketime` command: that command forks the program it runs, so a
 * SIGKILL meant for the gateway killed only the wrapper and left the gateway running.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** The multi-threaded variant (Node runs threads of its own), in the library dir of this machine's architecture. */
const NAME = 'libfaketimeMT.so.1';

/** Its path; fails with the package to install when libfaketime is missing. */
export function libfaketime(): string {
  // Debian puts it under /usr/lib/<multiarch triplet>/faketime: x86_64-linux-gnu, aarch64-linux-gnu, …
  const found = readdirSync('/usr/lib')
    .filter((d) => d.endsWith('-linux-gnu') || d.endsWith('-linux-gnueabihf'))
    .map((d) => join('/usr/lib', d, 'faketime', NAME))
    .find((f) => existsSync(f));
  if (!found) throw new Error(`${NAME} is missing under /usr/lib/*/faketime (Debian package faketime)`);
  return found;
}
