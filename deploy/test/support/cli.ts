/** Test helper: the real `sensorgate` CLI as a child process, and bundles packed with it. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Arch } from '../../pack/targets.js';

export const CLI = fileURLToPath(new URL('../../../gateway/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function sensorgate(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const packed = new Map<Arch, Promise<string>>();

/** A bundle for `arch` made by `sensorgate pack`, once per test process (native builds are cached per user). */
export function bundleFor(arch: Arch): Promise<string> {
  let bundle = packed.get(arch);
  if (!bundle) {
    bundle = (async () => {
      const out = join(mkdtempSync(join(tmpdir(), 'sg-bundle-')), `sensorgate-${arch}.tar.gz`);
      const r = await sensorgate(['pack', '--arch', arch, '--out', out]);
      if (r.code !== 0) throw new Error(`sensorgate pack --arch ${arch} failed (${r.code}):\n${r.stderr}`);
      return out;
    })();
    packed.set(arch, bundle);
  }
  return bundle;
}

/** Remove the bundles made by bundleFor. */
async function disposeBundles(): Promise<void> {
  for (const bundle of packed.values())
    rmSync(dirname(await bundle.catch(() => '/nonexistent/x')), { recursive: true, force: true });
  packed.clear();
}

/**
 * A temporary directory for a test file's work, called at its top level: when the file's tests are
 * done, the directory goes, and with it every bundle bundleFor made.
 */
export function workDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await disposeBundles();
  });
  return dir;
}
