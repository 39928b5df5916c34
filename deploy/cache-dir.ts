/** The per-user cache of the deploy tooling (Kafka jars, native modules, Node builds): never inside the repository. */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** `${SENSORGATE_CACHE ?? XDG_CACHE_HOME ?? ~/.cache}/sensorgate/<sub>` (a blank variable counts as unset). */
export function cacheDir(sub: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = env.SENSORGATE_CACHE?.trim() || env.XDG_CACHE_HOME?.trim() || join(homedir(), '.cache');
  return join(resolve(base), 'sensorgate', sub);
}
