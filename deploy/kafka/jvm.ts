/**
 * The processes the Kafka launcher runs: tools run to completion (mvn, Kafka's StorageTool), whose
 * output is kept for error messages, and broker JVMs, which must never outlive this Node process.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Combined stdout and stderr, the last 64 KiB. */
  output: string;
}

const MAX_OUTPUT = 65_536;

/** Resolves when `child` has ended, with what it wrote; rejects with `failed(err)` when it cannot run. */
function completion(child: ChildProcess, failed: (err: NodeJS.ErrnoException) => Error): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let output = '';
    const collect = (b: Buffer): void => {
      output += b.toString('utf8');
      if (output.length > MAX_OUTPUT) output = output.slice(-MAX_OUTPUT);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('error', (err: NodeJS.ErrnoException) => reject(failed(err)));
    child.once('close', (code, signal) => resolve({ code, signal, output }));
  });
}

/** Run a command to completion. */
export function run(cmd: string, args: string[], opts: SpawnOptions = {}): Promise<RunResult> {
  const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  return completion(child, (err) =>
    err.code === 'ENOENT' ? new Error(`${cmd} not found on PATH (${err.message})`) : err,
  );
}

/** Run a Java tool to completion (killed with us, as every JVM). */
export function runJava(args: string[], cwd: string): Promise<RunResult> {
  const child = spawnJava(args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  return completion(child, (err) => new Error(`could not run ${javaCommand()}: ${err.message}`));
}

export function tailLines(text: string, maxLines: number): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  return lines.slice(-maxLines).join('\n');
}

/** The last lines of a log file ('' when there is none). */
export async function fileTail(path: string, maxBytes = 8192, maxLines = 40): Promise<string> {
  try {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, maxBytes);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return tailLines(buf.toString('utf8'), maxLines);
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

const liveJvms = new Set<ChildProcess>();
let exitHookInstalled = false;

/** The JVM must not outlive this Node process. */
function track(child: ChildProcess): void {
  liveJvms.add(child);
  child.once('exit', () => liveJvms.delete(child));
  child.once('error', () => liveJvms.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of liveJvms) {
        try {
          c.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    });
  }
}

/**
 * On Linux, wrap with `setpriv --pdeathsig KILL` so the JVM also dies when Node is killed
 * by a signal (where 'exit' handlers do not run). setpriv execs, so the pid is the JVM's.
 */
const SETPRIV = process.platform === 'linux' && existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;

function javaCommand(): string {
  const home = process.env.JAVA_HOME;
  return home !== undefined && home !== '' ? join(home, 'bin', 'java') : 'java';
}

function spawnJava(args: string[], opts: SpawnOptions): ChildProcess {
  const java = javaCommand();
  // With setpriv the JVM dies with us, so it can have its own process group: Ctrl-C in a terminal
  // (SIGINT to the foreground group) then reaches only us, and we stop the broker in order.
  const child =
    SETPRIV !== undefined
      ? spawn(SETPRIV, ['--pdeathsig', 'KILL', java, ...args], { ...opts, detached: true })
      : spawn(java, args, opts);
  track(child);
  return child;
}

/** A long-running JVM (a Kafka node) and how it ended. */
export interface Jvm {
  child: ChildProcess;
  exited: Promise<void>;
  hasExited: boolean;
  exitDesc: string;
  /** Set before we stop or kill it: an exit then is no news. */
  expectedExit: boolean;
}

/**
 * Start a JVM in `cwd` with its stdout and stderr appended to `consoleFile`. `onExit` is told
 * once when it ends, however it ends.
 */
export function startJvm(args: string[], cwd: string, consoleFile: string, onExit: (jvm: Jvm) => void): Jvm {
  const fd = openSync(consoleFile, 'a');
  let child: ChildProcess;
  try {
    child = spawnJava(args, { cwd, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  const jvm: Jvm = { child, exited: Promise.resolve(), hasExited: false, exitDesc: '', expectedExit: false };
  jvm.exited = new Promise<void>((resolveExit) => {
    const done = (desc: string): void => {
      if (jvm.hasExited) return;
      jvm.hasExited = true;
      jvm.exitDesc = desc;
      onExit(jvm);
      resolveExit();
    };
    child.once('exit', (code, signal) => done(signal ? `signal ${signal}` : `exit code ${code}`));
    child.once('error', (err) => done(`spawn error: ${err.message}`));
  });
  return jvm;
}

/** SIGTERM (a controlled shutdown) and wait for the exit; SIGKILL after `graceMs` (`onKill` is told). */
export async function stopJvm(jvm: Jvm, graceMs: number, onKill: () => void): Promise<void> {
  jvm.expectedExit = true;
  jvm.child.kill('SIGTERM');
  const timer = setTimeout(() => {
    onKill();
    jvm.child.kill('SIGKILL');
  }, graceMs);
  try {
    await jvm.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** SIGKILL (unless it has exited already) and wait for the exit. */
export async function killJvm(jvm: Jvm): Promise<void> {
  jvm.expectedExit = true;
  if (!jvm.hasExited) jvm.child.kill('SIGKILL');
  await jvm.exited;
}
