/**
 * What of the package a device bundle holds: only what runs on the device (docs/deploy.md).
 *
 * Our code is an allow-list, so nothing new lands on devices unasked: the daemon and the commands
 * it is run with (run, check, config schema, buffer). Left out: the demo, the simulator
 * (firmware-sim), the fleet page and the example consumer (gateway/offsite), the bench, the deploy
 * tooling, tests and source maps; the CLI names the commands left out and says they are not part
 * of the bundle when one is asked for.
 */
import { readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** Paths under dist/ that a device runs; folders are taken whole, less their test/ folders and source maps. */
export const DEVICE_CODE = [
  'drivers',
  'gateway/gateway.js',
  'gateway/buffer',
  'gateway/config',
  'gateway/forwarder',
  'gateway/ingest',
  'gateway/lib',
  'gateway/status',
  'gateway/uplink',
  'gateway/web',
  'gateway/cli/main.js',
  'gateway/cli/lazy-commands.js',
  'gateway/cli/exit.js',
  'gateway/cli/config-or-exit.js',
  'gateway/cli/run.js',
  'gateway/cli/check.js',
  'gateway/cli/config-schema.js',
  'gateway/cli/buffer.js',
] as const;

/** Runtime dependencies that only commands left out of the bundle use: the demo's MQTT broker, flash's progress bar. */
export const OFF_DEVICE_PACKAGES = ['aedes', 'cli-progress'] as const;

/** Whether a file or folder copied from dist/ belongs in the bundle (test/ folders and source maps do not). */
export function isDeviceFile(path: string): boolean {
  return basename(path) !== 'test' && !path.endsWith('.map');
}

/**
 * Remove from an installed node_modules what no device ever loads: type declarations (the @types
 * packages, .d.ts files), source maps, and protobufjs's code generator (pbjs/pbts, which its
 * package ships with a node_modules of its own: jsdoc, uglify-js …; sparkplug-payload uses only
 * protobufjs's runtime).
 */
export async function trimNodeModules(nodeModules: string): Promise<void> {
  await rm(join(nodeModules, '@types'), { recursive: true, force: true });
  await rm(join(nodeModules, 'protobufjs', 'cli'), { recursive: true, force: true });
  const visit = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await visit(path);
      else if (entry.isFile() && /\.(map|d\.ts|d\.mts|d\.cts)$/.test(entry.name)) await rm(path);
    }
  };
  await visit(nodeModules);
}
