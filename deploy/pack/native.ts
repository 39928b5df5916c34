/**
 * Native modules of a staged node_modules tree, built for the bundle's target.
 *
 * Every package with a binding.gyp (better-sqlite3, @serialport/bindings-cpp, epoll …) is
 * compiled from its own sources with node-gyp and the target's GNU cross compiler, against the
 * headers of the Node running this or --nodedir (the bundle's ABI is theirs): no
 * download, no prebuilt binary from elsewhere. napi-rs packages (lz4-napi) need no build: npm
 * installed their prebuilt package for the target cpu. Afterwards every .node file left in the
 * tree must be an ELF file for the target machine.
 */
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { run } from './exec.js';
import { elfMachineName, hostArch, readElfMachine, type Target } from './targets.js';

export interface NativePackage {
  readonly name: string;
  readonly version: string;
  readonly dir: string;
}

/** Packages under node_modules (nested and scoped ones too) that have a binding.gyp. */
export async function findNativePackages(nodeModules: string): Promise<NativePackage[]> {
  const found: NativePackage[] = [];
  async function visit(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.name.startsWith('@')) {
        await visit(path);
        continue;
      }
      if (existsSync(join(path, 'binding.gyp'))) {
        const pkg = JSON.parse(await readFile(join(path, 'package.json'), 'utf8')) as { name: string; version: string };
        found.push({ name: pkg.name, version: pkg.version, dir: path });
      }
      if (existsSync(join(path, 'node_modules'))) await visit(join(path, 'node_modules'));
    }
  }
  await visit(nodeModules);
  return found.sort((a, b) => a.name.localeCompare(b.name));
}

/** Where this Node's headers are: <prefix>/include/node beside <prefix>/bin/node (distro packages and official tarballs alike). */
export function defaultNodeDir(): string {
  return dirname(dirname(process.execPath));
}

export interface NodeHeaders {
  /** e.g. "20.20.2" */
  version: string;
  /** NODE_MODULE_VERSION, the native-module ABI the device's Node must have. */
  modules: string;
}

/** The Node version and ABI the headers in `nodedir` are for: what the bundle's native modules will need. */
export function readNodeHeaders(nodedir: string): NodeHeaders {
  const file = join(nodedir, 'include', 'node', 'node_version.h');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(
      `no Node.js headers in ${dirname(file)}: native modules are compiled against them offline. ` +
        'Use a Node.js that ships them (official tarballs and NodeSource packages do; Debian: apt-get install libnode-dev) or pass --nodedir',
    );
  }
  const define = (name: string) => new RegExp(`^#define ${name} (\\d+)$`, 'm').exec(text)?.[1];
  const [major, minor, patch, modules] = [
    'NODE_MAJOR_VERSION',
    'NODE_MINOR_VERSION',
    'NODE_PATCH_VERSION',
    'NODE_MODULE_VERSION',
  ].map(define);
  if (!major || !minor || !patch || !modules) throw new Error(`${file}: cannot read the Node.js version`);
  if (Number(major) < 20) throw new Error(`${file} is Node.js ${major}: sensorgate needs Node.js 20 or newer`);
  return { version: `${major}.${minor}.${patch}`, modules };
}

/**
 * The compiler prefix for the target ("aarch64-linux-gnu-"), failing early and naming the
 * Debian package when it is missing. For this machine's own arch the plain gcc/g++ also do.
 */
export async function toolchainPrefix(target: Target): Promise<string> {
  try {
    await run(`${target.triple}-g++`, ['--version']);
    return `${target.triple}-`;
  } catch (err) {
    if (target.arch === hostArch()) {
      await run('g++', ['--version'], { install: 'a C++ compiler: apt-get install g++' });
      return '';
    }
    throw new Error(
      `${target.triple}-g++ not found: native modules for ${target.arch} need the cross compiler (apt-get install ${target.toolchainPackage})`,
      { cause: err },
    );
  }
}

export interface BuildOptions {
  target: Target;
  /** From toolchainPrefix(). */
  prefix: string;
  nodedir: string;
  /** The headers' ABI (readNodeHeaders). */
  modules: string;
  /** Built .node files are kept here per package version, target and ABI; undefined: no cache. */
  cacheDir?: string;
}

/** Build one package in place for the target; leave only build/Release/*.node (stripped) of the build tree. */
export async function buildNativePackage(pkg: NativePackage, opts: BuildOptions): Promise<'cached' | 'built'> {
  const { target } = opts;
  const release = join(pkg.dir, 'build', 'Release');
  const cached =
    opts.cacheDir &&
    join(opts.cacheDir, `${target.arch}-abi${opts.modules}`, `${pkg.name.replace('/', '+')}@${pkg.version}`);
  await rm(join(pkg.dir, 'build'), { recursive: true, force: true });
  await rm(join(pkg.dir, 'prebuilds'), { recursive: true, force: true }); // build/Release is the one binary left

  if (cached && existsSync(cached)) {
    await cp(cached, release, { recursive: true });
    await dropSources(pkg.dir);
    return 'cached';
  }
  const tool = (name: string) => `${opts.prefix}${name}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CC: tool('gcc'),
    CXX: tool('g++'),
    LINK: tool('g++'),
    AR: tool('ar'),
    CC_host: 'gcc',
    CXX_host: 'g++',
    npm_config_nodedir: opts.nodedir,
  };
  // node-gyp is a dev dependency: packing runs from a checkout, flashing with --bundle need not.
  const nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  await run(
    process.execPath,
    [
      nodeGyp,
      'rebuild',
      '--release',
      `--arch=${target.nodeArch}`,
      `--nodedir=${opts.nodedir}`,
      `--jobs=${availableParallelism()}`,
    ],
    { cwd: pkg.dir, env },
  );

  const binaries = (await readdir(release)).filter((f) => f.endsWith('.node'));
  if (binaries.length === 0) throw new Error(`${pkg.name}: node-gyp built no .node file`);
  // node-gyp's tree holds objects, Makefiles and test targets; keep only the modules.
  const kept = await mkdtemp(join(pkg.dir, '.release-'));
  for (const f of binaries) await rename(join(release, f), join(kept, f));
  await rm(join(pkg.dir, 'build'), { recursive: true, force: true });
  await mkdir(join(pkg.dir, 'build'));
  await rename(kept, release);
  for (const f of binaries) await run(tool('strip'), ['--strip-unneeded', join(release, f)]);

  if (cached) {
    // Copy then rename, so a concurrent pack never sees half a cache entry.
    const tmp = `${cached}.tmp-${process.pid}`;
    await mkdir(dirname(cached), { recursive: true });
    await cp(release, tmp, { recursive: true });
    await rename(tmp, cached).catch(async () => rm(tmp, { recursive: true, force: true }));
  }
  await dropSources(pkg.dir);
  return 'built';
}

/** C and C++ files a native package compiles from, once built: no device needs them. */
const SOURCE_FILE = /\.(c|cc|cpp|cxx|h|hh|hpp)$/;

/**
 * Delete a built package's C/C++ sources (better-sqlite3 ships SQLite's 9 MB amalgamation),
 * leaving its JavaScript, binding.gyp and build/Release as they are.
 */
async function dropSources(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'node_modules' && entry.name !== 'build') await dropSources(path);
    else if (entry.isFile() && SOURCE_FILE.test(entry.name)) await rm(path);
  }
}

/**
 * Remove prebuilt binaries for other platforms (node-gyp-build's prebuilds/<platform>-<arch>),
 * then check that every remaining .node file is code for the target.
 */
export async function pruneAndVerify(root: string, target: Target): Promise<string[]> {
  const keep = `linux-${target.nodeArch}`;
  const modules: string[] = [];
  const wrong: string[] = [];
  async function visit(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === 'prebuilds') {
          for (const platform of await readdir(path)) {
            if (platform !== keep) await rm(join(path, platform), { recursive: true, force: true });
          }
        }
        await visit(path);
      } else if (entry.isFile() && entry.name.endsWith('.node')) {
        const machine = readElfMachine(path);
        if (machine !== target.elfMachine) {
          wrong.push(`${relative(root, path)} (${machine === undefined ? 'not ELF' : elfMachineName(machine)})`);
        }
        modules.push(relative(root, path));
      }
    }
  }
  await visit(root);
  if (wrong.length) {
    throw new Error(
      `native modules not built for ${target.arch} (${elfMachineName(target.elfMachine)}):\n  ${wrong.join('\n  ')}`,
    );
  }
  return modules.sort();
}
