/**
 * `sensorgate flash`: turn a Raspberry Pi OS image into one that boots into a running gateway.
 *
 * The input image is only read. With --out it is copied and the copy customised; with --device
 * the (customised) image is written to the card and read back. The config is validated before
 * anything is written, and the bundle must be for the image's CPU.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readdir, readFile, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack, readBundleManifest } from '../pack/pack.js';
import type { Arch } from '../pack/targets.js';
import { type Bundle, customise, describeBundle, type Identity, type ImageInfo, inspectImage } from './customise.js';
import { DeployConfigError, type DevicePayload, devicePayload, type GatewayConfigRules } from './device-config.js';
import { silentProgress } from './progress.js';
import { checkTargetDevice, type ProgressFactory, syncTarget, writeAndVerify } from './write.js';

export interface FlashOptions {
  image: string;
  /** The device's config file (YAML). */
  config: string;
  /** The gateway's config rules, by which the config is checked (the command line hands them in). */
  configRules: GatewayConfigRules;
  /** The customised copy; default <image>-<gateway id>.img beside the image, unless --device is given. */
  out?: string;
  device?: string;
  /** Bundle to install; default: pack one for the image's architecture. */
  bundle?: string;
  /** Architecture of the bundle to pack when the image does not tell (default arm64). */
  arch?: Arch;
  /** A directory of credential files named SENSORGATE_<PATH> (docs/deploy.md). */
  credentials?: string;
  hostname?: string;
  /** Confirms erasing a block device. */
  yes?: boolean;
  log?: (line: string) => void;
  progress?: ProgressFactory;
}

export interface FlashResult {
  targets: string[];
  identity: Identity;
  mode: ImageInfo['mode'];
}

/**
 * Credential files of a directory: name -> content without the trailing newline `echo` adds.
 * A symbolic link (say into a secrets store) counts as the file it points to; one that points to
 * nothing or to no file is refused, naming it, rather than the credential going missing unnoticed.
 */
export async function readCredentialsDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const problems: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink()) {
      const target = await stat(path).catch(() => undefined);
      if (!target?.isFile()) {
        problems.push(
          `credentials.${entry.name}: ${path} is a symbolic link to ${target ? 'something that is not a file' : 'nothing'}`,
        );
        continue;
      }
    } else if (!entry.isFile()) continue;
    out[entry.name] = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
  }
  if (problems.length) throw new DeployConfigError(problems);
  return out;
}

export interface ResolvedBundle extends Bundle {
  /** Removes a bundle packed on the fly. */
  dispose(): Promise<void>;
}

/** The given bundle, checked against the image's CPU, or a new one packed for it. */
export async function resolveBundle(
  given: string | undefined,
  info: ImageInfo,
  fallbackArch: Arch,
  log: (line: string) => void,
): Promise<ResolvedBundle> {
  if (given) {
    const manifest = await readBundleManifest(given);
    if (info.arch && manifest.arch !== info.arch) {
      throw new Error(
        `${given} is built for ${manifest.arch}, but the image's OS is ${info.arch}: pack one with --arch ${info.arch}`,
      );
    }
    return { ...(await describeBundle(given, manifest)), dispose: async () => undefined };
  }
  const arch = info.arch ?? fallbackArch;
  log(`no --bundle given: packing one for ${arch}${info.arch ? " (the image's architecture)" : ''}`);
  const dir = await mkdtemp(join(tmpdir(), 'sensorgate-bundle-'));
  const result = await pack({ arch, out: join(dir, `sensorgate-${arch}.tar.gz`), log });
  return {
    path: result.out,
    manifest: result.manifest,
    sha256: result.sha256,
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Copy an image to `out`, which is owner-only (0600) before a byte is in it: the copy is about to
 * get the device's secrets, and copyFile would give it the input's mode (0644 as downloaded).
 */
async function copyImagePrivately(image: string, out: string): Promise<void> {
  const file = await open(out, 'w', 0o600);
  try {
    // open() leaves the mode of a file that was already there; a device node keeps its own.
    if ((await file.stat()).isFile()) await file.chmod(0o600);
  } catch (err) {
    await file.close();
    throw err;
  }
  // The write stream closes the file when done or failed.
  await pipeline(createReadStream(image, { highWaterMark: 1 << 20 }), file.createWriteStream());
}

/**
 * Copy `image` to `out` and customise the copy. If that fails, an image this run created is
 * removed: a copy without the first-boot hook would look finished and boot a stock system. A file
 * that was already at `out` (a device node, or one the user chose to overwrite) is not ours to
 * remove; it is only reported unfinished.
 */
export async function customiseCopy(
  image: string,
  out: string,
  info: ImageInfo,
  device: DevicePayload,
  bundle: Bundle,
  log: (line: string) => void,
): Promise<Identity> {
  const existed = await stat(out).then(
    () => true,
    () => false,
  );
  try {
    await copyImagePrivately(image, out);
    return await customise(out, info, device, bundle);
  } catch (err) {
    if (existed) log(`warning: ${out} was overwritten but not finished: do not use it`);
    else await rm(out, { force: true });
    throw err;
  }
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const real = async (p: string) => realpath(p).catch(() => resolve(p));
  return (await real(a)) === (await real(b));
}

export async function flash(opts: FlashOptions): Promise<FlashResult> {
  const log = opts.log ?? (() => undefined);
  const progress = opts.progress ?? silentProgress;
  const payload: DevicePayload = devicePayload(
    await readFile(opts.config, 'utf8'),
    opts.credentials ? await readCredentialsDir(opts.credentials) : {},
    opts.hostname,
    opts.config,
    opts.configRules,
  );
  for (const w of payload.warnings) log(`warning: ${w}`);
  // Neither given: a customised copy beside the input, named after the device.
  const out =
    opts.out ??
    (opts.device
      ? undefined
      : join(dirname(opts.image), `${basename(opts.image, extname(opts.image))}-${payload.gatewayId}.img`));
  for (const target of [out, opts.device]) {
    if (target && (await sameFile(target, opts.image)))
      throw new Error(`${target} is the input image: it is never modified, write to another file or device`);
  }
  if (!(await stat(opts.image)).isFile()) {
    throw new Error(
      `${opts.image} is not an image file; to start from a card, read it into one first (dd if=/dev/sdX of=card.img bs=4M)`,
    );
  }
  const info = await inspectImage(opts.image);
  log(
    `image: ${info.layout.label} partition table, boot partition ${info.layout.boot.number} at byte ${info.layout.boot.offset}, ` +
      `first boot via ${info.mode === 'cmdline' ? 'cmdline.txt (systemd.run)' : 'cloud-init user-data'}, ` +
      `boot mounted at ${info.bootMount}${info.bootMountKnown ? '' : ' (assumed)'}, OS ${info.arch ?? 'architecture unknown'}`,
  );
  const imageBytes = (await stat(opts.image)).size;
  if (opts.device) await checkTargetDevice(opts.device, opts.yes ?? false, imageBytes);

  const bundle = await resolveBundle(opts.bundle, info, opts.arch ?? 'arm64', log);
  try {
    let identity: Identity;
    if (out) {
      log(`copying ${opts.image} to ${out}`);
      identity = await customiseCopy(opts.image, out, info, payload, bundle, log);
      log(`customised ${out} for ${identity.gatewayId}`);
      if (opts.device) {
        const { sha256 } = await writeAndVerify(out, opts.device, progress);
        log(`wrote and verified ${opts.device} (sha256 ${sha256})`);
      }
    } else {
      const card = opts.device!;
      const { sha256 } = await writeAndVerify(opts.image, card, progress);
      log(`wrote and verified ${card} (sha256 ${sha256}); customising it`);
      identity = await customise(card, info, payload, bundle);
      await syncTarget(card);
      log(`customised ${card} for ${identity.gatewayId}`);
    }
    return { targets: [out, opts.device].filter((t): t is string => Boolean(t)), identity, mode: info.mode };
  } finally {
    await bundle.dispose();
  }
}
