/** Where packing and flashing find their inputs: this package's root and the per-user cache. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (this file is dist/deploy/pack/paths.js below it). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A file shipped beside the compiled code, e.g. 'deploy/systemd/sensorgate.service'. */
export function asset(relativePath: string): string {
  return join(PACKAGE_ROOT, relativePath);
}
