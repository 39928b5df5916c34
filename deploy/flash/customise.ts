/**
 * Customising a Raspberry Pi OS image (a file or a card) for one device, on its FAT boot
 * partition only:
 *
 *   <boot>/sensorgate/firstrun.sh       the first-boot hook (deploy/flash/firstrun.sh)
 *   <boot>/sensorgate/bundle.tar.gz     the offline bundle (`sensorgate pack`)
 *   <boot>/sensorgate/config.yaml       the device's config, as given
 *   <boot>/sensorgate/identity.json     gateway id, hostname, bundle and config hashes
 *   <boot>/sensorgate/credentials/NAME  secrets (removed from the boot partition at first boot)
 *   <boot>/sensorgate/hostname          (cmdline mode; cloud-init sets it from user-data)
 *   <boot>/sensorgate/previous-hook     a first-boot script ours replaced and runs first
 *   cmdline.txt or user-data            the hook that runs firstrun.sh once (hook.ts)
 */
import { createHash } from 'node:crypto';
import { copyFile, link, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BundleManifest, sha256File } from '../pack/pack.js';
import { asset } from '../pack/paths.js';
import type { Arch } from '../pack/targets.js';
import type { DevicePayload } from './device-config.js';
import { type DiskLayout, readDiskLayout } from './disk.js';
import { FatVolume } from './fat.js';
import { type BootMode, bootModeOf, hookCmdline, hookUserData } from './hook.js';
import { readRootFacts } from './rootfs.js';

/** The folder on the boot partition that holds everything we put there. */
export const HOOK_FOLDER = 'sensorgate';
/** Where the boot partition is mounted when the image's fstab does not say (Bookworm and later). */
export const DEFAULT_BOOT_MOUNT = '/boot/firmware';

export interface ImageInfo {
  readonly layout: DiskLayout;
  readonly mode: BootMode;
  /** Mount point of the boot partition on the device. */
  readonly bootMount: string;
  /** Whether bootMount came from the image's /etc/fstab (else the default). */
  readonly bootMountKnown: boolean;
  readonly arch?: Arch;
}

/** Read what customising needs to know from an image, without writing to it. */
export async function inspectImage(image: string): Promise<ImageInfo> {
  const layout = await readDiskLayout(image);
  const fat = new FatVolume(image, layout.boot.offset);
  const mode = bootModeOf({
    userData: await fat.exists('/user-data'),
    metaData: await fat.exists('/meta-data'),
    cmdline: await fat.exists('/cmdline.txt'),
  });
  const facts = layout.root ? await readRootFacts(image, layout.root.offset) : {};
  return {
    layout,
    mode,
    bootMount: facts.bootMount ?? DEFAULT_BOOT_MOUNT,
    bootMountKnown: facts.bootMount !== undefined,
    ...(facts.arch ? { arch: facts.arch } : {}),
  };
}

export interface Bundle {
  readonly path: string;
  readonly manifest: BundleManifest;
  readonly sha256: string;
}

export interface Identity {
  gatewayId: string;
  hostname: string | null;
  flashedAt: string;
  bundle: { version: string; arch: Arch; sha256: string };
  configSha256: string;
}

/** Put the device's files and the first-boot hook on the image's boot partition; read them back. */
export async function customise(
  target: string,
  info: ImageInfo,
  device: DevicePayload,
  bundle: Bundle,
): Promise<Identity> {
  const fat = new FatVolume(target, info.layout.boot.offset);
  const hook = `${info.bootMount}/${HOOK_FOLDER}/firstrun.sh`;
  const identity: Identity = {
    gatewayId: device.gatewayId,
    hostname: device.hostname ?? null,
    flashedAt: new Date().toISOString(),
    bundle: { version: bundle.manifest.version, arch: bundle.manifest.arch, sha256: bundle.sha256 },
    configSha256: createHash('sha256').update(device.configText).digest('hex'),
  };

  const stage = await mkdtemp(join(tmpdir(), 'sensorgate-flash-'));
  try {
    const folder = join(stage, HOOK_FOLDER);
    await mkdir(folder);
    const firstrun = await readFile(asset('deploy/flash/firstrun.sh'));
    await writeFile(join(folder, 'firstrun.sh'), firstrun);
    await link(bundle.path, join(folder, 'bundle.tar.gz')).catch(() =>
      copyFile(bundle.path, join(folder, 'bundle.tar.gz')),
    );
    await writeFile(join(folder, 'config.yaml'), device.configText);
    await writeFile(join(folder, 'identity.json'), `${JSON.stringify(identity, null, 2)}\n`);
    const names = Object.keys(device.credentials);
    if (names.length) {
      await mkdir(join(folder, 'credentials'));
      for (const name of names) await writeFile(join(folder, 'credentials', name), device.credentials[name]!);
    }

    let hookFile: { path: string; text: string };
    if (info.mode === 'cmdline') {
      const { cmdline, previous } = hookCmdline((await fat.readText('/cmdline.txt')) ?? '', hook, info.bootMount);
      if (previous !== undefined) {
        if (!(await fat.exists(`/${previous}`)))
          throw new Error(`cmdline.txt runs ${previous} at first boot, but the boot partition has no such file`);
        await writeFile(join(folder, 'previous-hook'), previous);
      }
      if (device.hostname) await writeFile(join(folder, 'hostname'), device.hostname);
      hookFile = { path: '/cmdline.txt', text: cmdline };
    } else {
      hookFile = { path: '/user-data', text: hookUserData(await fat.readText('/user-data'), hook, device.hostname) };
    }

    await fat.putTree(folder, HOOK_FOLDER);
    await fat.write(hookFile.path, hookFile.text);

    // Read back: a full boot partition or a flaky card must fail here, not at first boot.
    const expect: [string, Buffer | string][] = [
      [hookFile.path, hookFile.text],
      [`/${HOOK_FOLDER}/firstrun.sh`, firstrun],
      [`/${HOOK_FOLDER}/config.yaml`, device.configText],
    ];
    for (const [path, content] of expect) {
      if (!(await fat.read(path))?.equals(Buffer.from(content)))
        throw new Error(`${target}: ${path} does not read back as written`);
    }
    const copied = createHash('sha256')
      .update((await fat.read(`/${HOOK_FOLDER}/bundle.tar.gz`)) ?? '')
      .digest('hex');
    if (copied !== bundle.sha256)
      throw new Error(`${target}: the bundle on the boot partition does not read back as written`);
    return identity;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

/** A bundle file with its manifest and hash. */
export async function describeBundle(path: string, manifest: BundleManifest): Promise<Bundle> {
  return { path, manifest, sha256: await sha256File(path) };
}
