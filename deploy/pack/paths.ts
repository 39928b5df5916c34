/** Where packing and flashing find their inputs: this package's root and the per-user cache. */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (this file is dist/deploy/pack/paths.js below it). */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A file shipped beside the compiled code, e.g. 'deploy/systemd/sensorgate.service'. */
export function asset(relativePath: string): string {
  return join(PACKAGE_ROOT, relativePath);
}

/** `${SENSORGATE_CACHE ?? XDG_CACHE_HOME ?? ~/.cache}/sensorgate/<sub>`, as the Kafka launcher's cache. */
export function cacheDir(sub: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = env.SENSORGATE_CACHE?.trim() || env.XDG_CACHE_HOME?.trim() || join(homedir(), '.cache');
  return join(resolve(base), 'sensorgate', sub);
}
