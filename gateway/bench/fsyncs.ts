/**
 * How often a running process asks the disk to flush: `strace -f -c -e trace=fsync,fdatasync -p PID`
 * attached for a window, its call counts read from the summary strace writes when it detaches.
 * ptrace stops the traced process at every system call, so the window's CPU is not the process's
 * usual CPU: callers measure CPU outside it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exited, spawnTracked } from './proc.js';

export interface FsyncCount {
  fsync: number;
  fdatasync: number;
  seconds: number;
  perSecond: number;
}

export interface FsyncTrace {
  /** Detach and count what happened since the attach. */
  stop(): Promise<FsyncCount>;
}

/** Attach strace to every thread of `pid`; resolves once it is attached. */
export async function traceFsyncs(pid: number, dir: string, name: string): Promise<FsyncTrace> {
  const out = join(dir, `strace-${name}.txt`);
  const strace = spawnTracked('strace', ['-f', '-c', '-e', 'trace=fsync,fdatasync', '-o', out, '-p', String(pid)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  strace.stderr!.setEncoding('utf8');
  const attached = new Promise<void>((resolve, reject) => {
    strace.stderr!.on('data', (s: string) => {
      stderr += s;
      if (/attached/.test(stderr)) resolve();
    });
    strace.once('exit', (code) => reject(new Error(`strace exited (${code}) before attaching: ${stderr.trim()}`)));
    strace.once('error', reject);
  });
  await attached;
  const t0 = Date.now();
  return {
    async stop() {
      const done = exited(strace);
      strace.kill('SIGINT');
      await done;
      const seconds = (Date.now() - t0) / 1000;
      const summary = await readFile(out, 'utf8');
      const calls = (syscall: string) =>
        Number(
          new RegExp(`^\\s*[\\d.]+\\s+[\\d.]+\\s+\\d+\\s+(\\d+)\\s+(?:\\d+\\s+)?${syscall}$`, 'm').exec(summary)?.[1] ??
            0,
        );
      const fsync = calls('fsync');
      const fdatasync = calls('fdatasync');
      return { fsync, fdatasync, seconds, perSecond: (fsync + fdatasync) / seconds };
    },
  };
}
