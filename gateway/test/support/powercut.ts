/**
 * Test helper: mounts powercut-fs.py (a FUSE file system that keeps unsynced writes in memory
 * and drops them on a cut; see that file) over a fresh directory.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../../../gateway/test/support/powercut-fs.py', import.meta.url));

export type PowerCutCommand =
  | { cut: true }
  | { cutOnWrite: { suffix: string; nth: number } }
  | { failFsync: boolean }
  | { resume: true };

export interface PowerCutFs {
  /** Where the file system is mounted: put the data dir under it. */
  readonly mountpoint: string;
  /** The directory underneath (what survives a cut). */
  readonly backing: string;
  command(cmd: PowerCutCommand): Promise<void>;
  /** Resolves with the reason of the next cut (`cut` command or an armed write). */
  nextCut(): Promise<string>;
  destroy(): Promise<void>;
}

export async function mountPowerCutFs(): Promise<PowerCutFs> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-powercut-'));
  const backing = join(dir, 'backing');
  const mountpoint = join(dir, 'mnt');
  const control = join(dir, 'control.json');
  mkdirSync(backing);
  mkdirSync(mountpoint);
  const child = spawn('/usr/bin/python3', [SCRIPT, backing, mountpoint, control], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      for (const w of waiters.splice(0)) w();
    }
  });
  const until = async (what: string, test: () => boolean, ms = 120_000) => {
    const deadline = Date.now() + ms;
    while (!test()) {
      if (Date.now() > deadline) throw new Error(`powercut-fs: timed out waiting for ${what}`);
      if (child.exitCode !== null) throw new Error(`powercut-fs exited with ${child.exitCode}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
  };
  await until('the mount', () => readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${mountpoint} `), 20_000);
  let id = 0;
  let cutsSeen = 0;
  return {
    mountpoint,
    backing,
    async command(cmd) {
      const n = ++id;
      writeFileSync(control, JSON.stringify({ ...cmd, id: n }));
      await until(`command ${n}`, () => lines.includes(`done ${n}`), 10_000);
    },
    async nextCut() {
      const index = () => lines.filter((l) => l.startsWith('cut ')).length;
      await until('a cut', () => index() > cutsSeen);
      return lines.filter((l) => l.startsWith('cut '))[cutsSeen++]!.slice(4);
    },
    async destroy() {
      try {
        execFileSync('fusermount', ['-u', '-z', mountpoint]);
      } catch {
        /* already gone */
      }
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
