/**
 * `sensorgate pack`: a self-contained offline bundle for one device architecture.
 *
 *   sensorgate/                      (the single top-level folder of the .tar.gz)
 *     bin/sensorgate                 launcher: runs dist/gateway/cli/main.js with the device's node
 *     install.sh                     installs it as a systemd service (docs/deploy.md)
 *     sensorgate-bundle.json         manifest: version, arch, Node ABI, native modules
 *     package.json, dist/, node_modules/ (what runs on a device: device-contents.ts)
 *     deploy/systemd/sensorgate.service, docs/deploy.md
 *
 * The production tree comes from the lockfile (`npm ci --omit=dev` with npm's --cpu/--os/--libc
 * set to the target, so platform packages such as lz4-napi's are the target's), with install
 * scripts off: nothing is downloaded from anywhere but the npm registry (or npm's cache). Then the
 * packages only off-device commands use are pruned, what never runs is trimmed, and the modules
 * with a binding.gyp are compiled for the target (native.ts).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, chmod, copyFile, cp, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { cacheDir } from '../cache-dir.js';
import { DEVICE_CODE, isDeviceFile, OFF_DEVICE_PACKAGES, trimNodeModules } from './device-contents.js';
import { run } from './exec.js';
import {
  buildNativePackage,
  defaultNodeDir,
  findNativePackages,
  pruneAndVerify,
  readNodeHeaders,
  toolchainPrefix,
} from './native.js';
import { asset, PACKAGE_ROOT } from './paths.js';
import { type Arch, TARGETS } from './targets.js';

export interface PackOptions {
  arch: Arch;
  /** The .tar.gz to write. */
  out: string;
  /** Node headers to compile against (default: those of the Node running this). */
  nodedir?: string;
  /** Keep/reuse built native modules in the per-user cache (default true). */
  cache?: boolean;
  /** Phase lines for the user. */
  log?: (line: string) => void;
}

export interface BundleManifest {
  name: string;
  version: string;
  arch: Arch;
  platform: 'linux';
  /** The Node the native modules were compiled for: the device needs the same major (same `modules`). */
  node: { version: string; modules: string };
  nativeModules: string[];
  builtAt: string;
}

export interface PackResult {
  out: string;
  bytes: number;
  sha256: string;
  manifest: BundleManifest;
}

/** The file name of the manifest inside a bundle's top folder. */
export const MANIFEST = 'sensorgate-bundle.json';
/** Top-level folder of every bundle. */
export const BUNDLE_DIR = 'sensorgate';

/** package.json fields a bundle keeps: what Node needs to run it and `--version` to report it. */
const KEPT_FIELDS = ['name', 'version', 'description', 'license', 'type', 'engines', 'bin', 'dependencies'];

/** The bundle's package.json: the fields it keeps, and the dependencies of what runs on a device. */
function devicePackageJson(pkg: Record<string, unknown>): Record<string, unknown> {
  const slim = Object.fromEntries(KEPT_FIELDS.filter((k) => k in pkg).map((k) => [k, pkg[k]]));
  const off = new Set<string>(OFF_DEVICE_PACKAGES);
  slim.dependencies = Object.fromEntries(
    Object.entries(pkg.dependencies as Record<string, string>).filter(([name]) => !off.has(name)),
  );
  return slim;
}

export async function pack(opts: PackOptions): Promise<PackResult> {
  const target = TARGETS[opts.arch];
  const log = opts.log ?? (() => undefined);
  const out = resolve(opts.out);
  const nodedir = opts.nodedir ?? defaultNodeDir();
  const steps = 6;
  const phase = (n: number, what: string) => log(`pack [${n}/${steps}] ${what}`);

  phase(1, `checking the ${target.arch} toolchain, Node headers and compiled code`);
  const prefix = await toolchainPrefix(target);
  const headers = readNodeHeaders(nodedir);
  await access(join(PACKAGE_ROOT, 'dist', 'gateway', 'cli', 'main.js')).catch(() => {
    throw new Error(`no compiled code in ${join(PACKAGE_ROOT, 'dist')}: run \`npm run build\` first`);
  });
  await access(join(PACKAGE_ROOT, 'package-lock.json')).catch(() => {
    throw new Error(`no package-lock.json in ${PACKAGE_ROOT}: pack runs from a checkout of the repository`);
  });

  const stage = await mkdtemp(join(tmpdir(), 'sensorgate-pack-'));
  try {
    const bundle = join(stage, BUNDLE_DIR);
    await mkdir(bundle);

    phase(2, 'copying the compiled code that runs on a device (without tests and source maps)');
    for (const path of DEVICE_CODE) {
      await cp(join(PACKAGE_ROOT, 'dist', path), join(bundle, 'dist', path), {
        recursive: true,
        filter: isDeviceFile,
      });
    }

    phase(
      3,
      `installing production dependencies for linux-${target.nodeArch} (npm ci --omit=dev), less ${OFF_DEVICE_PACKAGES.join(', ')}`,
    );
    const pkg = JSON.parse(await readFile(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
    await copyFile(join(PACKAGE_ROOT, 'package.json'), join(bundle, 'package.json'));
    await copyFile(join(PACKAGE_ROOT, 'package-lock.json'), join(bundle, 'package-lock.json'));
    const npmFlags = [
      '--omit=dev',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--os=linux',
      `--cpu=${target.nodeArch}`,
      '--libc=glibc',
    ];
    await run('npm', ['ci', ...npmFlags], { cwd: bundle, install: 'npm' });
    // Without the off-device packages in package.json, they and what only they need are extraneous.
    await writeFile(join(bundle, 'package.json'), `${JSON.stringify(devicePackageJson(pkg), null, 2)}\n`);
    await run('npm', ['prune', ...npmFlags], { cwd: bundle, install: 'npm' });
    await trimNodeModules(join(bundle, 'node_modules'));

    const natives = await findNativePackages(join(bundle, 'node_modules'));
    phase(
      4,
      `building ${natives.length} native modules for ${target.arch} against Node ${headers.version} headers (ABI ${headers.modules})`,
    );
    const cache = opts.cache === false ? undefined : cacheDir('native');
    for (const [i, pkg] of natives.entries()) {
      const started = Date.now();
      log(`  (${i + 1}/${natives.length}) ${pkg.name}@${pkg.version} …`);
      const how = await buildNativePackage(pkg, { target, prefix, nodedir, modules: headers.modules, cacheDir: cache });
      log(
        `  (${i + 1}/${natives.length}) ${pkg.name}@${pkg.version} ${how} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    }
    const nativeModules = await pruneAndVerify(join(bundle, 'node_modules'), target);

    phase(5, 'adding the launcher, install script, systemd unit and manifest');
    await rm(join(bundle, 'package-lock.json'));
    await rm(join(bundle, 'node_modules', '.package-lock.json'), { force: true });
    await placeFile(asset('deploy/pack/launcher.sh'), join(bundle, 'bin', 'sensorgate'), 0o755);
    await placeFile(asset('deploy/pack/install.sh'), join(bundle, 'install.sh'), 0o755);
    await placeFile(
      asset('deploy/systemd/sensorgate.service'),
      join(bundle, 'deploy', 'systemd', 'sensorgate.service'),
      0o644,
    );
    await placeFile(asset('docs/deploy.md'), join(bundle, 'docs', 'deploy.md'), 0o644);
    const manifest: BundleManifest = {
      name: String(pkg.name),
      version: String(pkg.version),
      arch: target.arch,
      platform: 'linux',
      node: headers,
      nativeModules,
      builtAt: new Date().toISOString(),
    };
    await writeFile(join(bundle, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);

    phase(6, `writing ${out}`);
    await mkdir(dirname(out), { recursive: true });
    const partial = `${out}.partial`;
    await run('tar', [
      '--sort=name',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '-czf',
      partial,
      '-C',
      stage,
      BUNDLE_DIR,
    ]);
    await rename(partial, out);
    const bytes = (await stat(out)).size;
    const sha256 = await sha256File(out);
    log(`pack: ${out} (${(bytes / 1024 / 1024).toFixed(1)} MiB, sha256 ${sha256})`);
    return { out, bytes, sha256, manifest };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

async function placeFile(src: string, dest: string, mode: number): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  await copyFile(src, dest);
  await chmod(dest, mode);
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The manifest of a bundle file, read without unpacking the rest. */
export async function readBundleManifest(bundle: string): Promise<BundleManifest> {
  const text = await run('tar', ['-xzOf', bundle, `${BUNDLE_DIR}/${MANIFEST}`]).catch((err: Error) => {
    throw new Error(
      `${bundle} is not a sensorgate bundle (no ${BUNDLE_DIR}/${MANIFEST}): ${err.message.split('\n')[0]}`,
    );
  });
  return JSON.parse(text.toString('utf8')) as BundleManifest;
}
