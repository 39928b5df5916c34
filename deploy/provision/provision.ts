/**
 * `sensorgate provision`: many devices from one inventory (inventory.ts).
 *
 * - With --image: one customised image per device, OUT/<id>.img (what `flash` makes for one).
 * - Without: one folder per device, OUT/<id>/config.yaml and OUT/<id>/credentials/, for
 *   devices installed from a bundle: `sudo ./install.sh --config OUT/<id>/config.yaml
 *   --credentials OUT/<id>/credentials --start`.
 * Every device is validated before anything is written.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { inspectImage } from '../flash/customise.js';
import type { GatewayConfigRules } from '../flash/device-config.js';
import { customiseCopy, resolveBundle } from '../flash/flash.js';
import type { Arch } from '../pack/targets.js';
import { loadInventory } from './inventory.js';

export interface ProvisionOptions {
  inventory: string;
  /** The gateway's config rules, by which every device's config is checked (the command line hands them in). */
  configRules: GatewayConfigRules;
  out: string;
  image?: string;
  bundle?: string;
  arch?: Arch;
  log?: (line: string) => void;
}

export interface ProvisionedDevice {
  id: string;
  /** The image or folder written for it. */
  path: string;
}

export async function provision(opts: ProvisionOptions): Promise<ProvisionedDevice[]> {
  const log = opts.log ?? (() => undefined);
  const devices = await loadInventory(opts.inventory, opts.configRules);
  log(`${devices.length} devices in ${opts.inventory}, all valid`);
  for (const d of devices) for (const w of d.warnings) log(`${d.id}: ${w}`);
  await mkdir(opts.out, { recursive: true });
  const done: ProvisionedDevice[] = [];

  if (!opts.image) {
    for (const d of devices) {
      const dir = join(opts.out, d.id);
      await mkdir(join(dir, 'credentials'), { recursive: true, mode: 0o700 });
      await writeFile(join(dir, 'config.yaml'), d.configText, { mode: 0o600 });
      await chmod(join(dir, 'config.yaml'), 0o600);
      for (const [name, value] of Object.entries(d.credentials)) {
        await writeFile(join(dir, 'credentials', name), value, { mode: 0o600 });
        await chmod(join(dir, 'credentials', name), 0o600);
      }
      done.push({ id: d.id, path: dir });
    }
    log(`wrote ${done.length} device folders in ${opts.out}`);
    return done;
  }

  const info = await inspectImage(opts.image);
  const bundle = await resolveBundle(opts.bundle, info, opts.arch ?? 'arm64', log);
  try {
    for (const [i, d] of devices.entries()) {
      const path = join(opts.out, `${d.id}.img`);
      log(`[${i + 1}/${devices.length}] ${d.id} -> ${path}`);
      await customiseCopy(opts.image, path, info, d, bundle, log);
      done.push({ id: d.id, path });
    }
  } finally {
    await bundle.dispose();
  }
  return done;
}
