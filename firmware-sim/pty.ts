/**
 * A pair of real pseudo-terminals joined by socat, reachable through two stable symlinks: a
 * simulated serial device writes into one end (`b`), the gateway opens the other (`a`) as it
 * would /dev/ttyUSB0. Stopping socat removes both links, as unplugging a USB serial adapter
 * removes its device node; starting it again re-creates them under the same names.
 *
 * socat runs in its own process group, under `setpriv --pdeathsig TERM` where available, so it
 * ends (and removes its links) even when this process is killed outright.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const SOCAT_BIN = process.env.SOCAT_BIN ?? '/usr/bin/socat';
const SETPRIV = process.platform === 'linux' && existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;
const READY_TIMEOUT_MS = 10_000;

export interface PtyPair {
  /** The gateway's end (a driver opens this path). */
  readonly a: string;
  /** The device's end. */
  readonly b: string;
  /** Re-create both ends (after stop()). */
  start(): Promise<void>;
  /** End socat: both paths disappear. */
  stop(): Promise<void>;
  /** stop(), and remove the directory if ptyPair made it. */
  destroy(): Promise<void>;
}

export interface PtyPairOptions {
  /** Link paths; default `a` and `b` in a new temporary directory. */
  a?: string;
  b?: string;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGTERM');
});

export async function ptyPair(o: PtyPairOptions = {}): Promise<PtyPair> {
  const ownDir = o.a === undefined || o.b === undefined ? mkdtempSync(join(tmpdir(), 'sg-pty-')) : undefined;
  const a = o.a ?? join(ownDir!, 'a');
  const b = o.b ?? join(ownDir!, 'b');
  for (const link of [a, b]) mkdirSync(dirname(link), { recursive: true });
  let child: ChildProcess | undefined;

  const pair: PtyPair = {
    a,
    b,
    async start() {
      if (child) return;
      // A link left by a socat that was killed outright would make socat refuse to start.
      for (const link of [a, b]) rmSync(link, { force: true });
      const args = ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`];
      // Its own process group: a Ctrl-C in the terminal is for us to handle (stopping the gateway
      // before its devices), not an unplug of every device at once.
      const opts: SpawnOptions = { stdio: ['ignore', 'ignore', 'pipe'], detached: true };
      const c = SETPRIV
        ? spawn(SETPRIV, ['--pdeathsig', 'TERM', SOCAT_BIN, ...args], opts)
        : spawn(SOCAT_BIN, args, opts);
      child = c;
      live.add(c);
      let log = '';
      let spawnError: Error | undefined;
      c.on('error', (err) => {
        spawnError = err;
      });
      c.stderr!.on('data', (d: Buffer) => {
        log = (log + d.toString()).slice(-4096);
      });
      const exited = new Promise<void>((resolve) =>
        c.once('close', () => {
          live.delete(c);
          resolve();
        }),
      );
      // socat logs "starting data transfer loop" once both ptys and links exist.
      const deadline = Date.now() + READY_TIMEOUT_MS;
      while (!log.includes('starting data transfer loop') || !existsSync(a) || !existsSync(b)) {
        if (spawnError || c.exitCode !== null || Date.now() > deadline) {
          c.kill('SIGKILL');
          await exited;
          child = undefined;
          if (
            (spawnError as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ||
            /No such file.*socat|exec.*socat/i.test(log)
          ) {
            throw new Error(
              `socat is needed for simulated serial devices and was not found at ${SOCAT_BIN} (Debian/Ubuntu: apt-get install socat)`,
            );
          }
          throw new Error(`socat did not create the pty pair ${a} <-> ${b}:\n${spawnError?.message ?? log}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      const c = child;
      if (!c) return;
      child = undefined;
      const exited = new Promise<void>((resolve) =>
        c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve()),
      );
      // SIGTERM lets socat remove its links, as the kernel removes /dev/ttyUSB0 on unplug.
      c.kill('SIGTERM');
      await exited;
      live.delete(c);
    },
    async destroy() {
      await pair.stop();
      if (ownDir) rmSync(ownDir, { recursive: true, force: true });
    },
  };
  await pair.start();
  return pair;
}
