/**
 * Processes the bench starts, and what Linux's /proc says about them (CPU time, memory, bytes
 * written). Every child is tracked so that nothing outlives the bench, even when it fails.
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Spawn a child that is SIGKILLed when the bench exits, however it exits. */
export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
  const child = spawn(cmd, args, opts);
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', () => children.delete(child));
  return child;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export function exited(child: ChildProcess): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', reject);
  });
}

/** SIGTERM, then SIGKILL if it is still there after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 15_000): Promise<Exit> {
  const done = exited(child);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}

/** Resolve when the child exits 0; otherwise a readable error naming it, with the tail of its stderr. */
export async function expectSuccess(name: string, child: ChildProcess): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString('utf8')).slice(-2000);
  });
  const { code, signal } = await exited(child);
  if (code !== 0) throw new Error(`${name} failed (${signal ?? `exit ${code}`}): ${stderr.trim() || 'no output'}`);
}

/** Run a command to completion and return what it printed (some tools print their version with a non-zero exit). */
export function runTool(cmd: string, args: string[]): string {
  const res = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  if (res.error) throw new Error(`${cmd}: ${res.error.message}`);
  return `${res.stdout}${res.stderr}`;
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(runTool('getconf', ['CLK_TCK']).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // USER_HZ on every Linux architecture we run on
    }
  }
  return ticksPerSecond;
}

/** User + system CPU seconds the process has used so far (/proc/PID/stat utime + stime). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces: count fields from the closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

export interface Memory {
  /** Resident set size now (VmRSS = RssAnon + RssFile + RssShmem). */
  rssBytes: number;
  /** Peak resident set size since the process started (VmHWM). */
  peakRssBytes: number;
  /** The resident part of the process's own memory now (heap, stacks, buffers): RssAnon. */
  rssAnonBytes: number;
  /** Resident file-backed pages now, mostly the node binary's code, shared with every other node process: RssFile. */
  rssFileBytes: number;
}

export function memory(pid: number): Memory {
  return memoryOf(readFileSync(`/proc/${pid}/status`, 'utf8'));
}

/** The memory fields of a /proc/PID/status text. */
export function memoryOf(status: string): Memory {
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return {
    rssBytes: kib('VmRSS'),
    peakRssBytes: kib('VmHWM'),
    rssAnonBytes: kib('RssAnon'),
    rssFileBytes: kib('RssFile'),
  };
}

/** Bytes the process caused to be written to storage (/proc/PID/io write_bytes; page cache writes count once per dirtying). */
export function writeBytes(pid: number | 'self' = 'self'): number {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return Number(/^write_bytes:\s+(\d+)/m.exec(io)?.[1] ?? NaN);
}

/**
 * The bench's own child scripts (publisher, naive bridge) report progress as JSON lines on
 * stdout, each with an "event" field; this awaits them by name.
 */
export class ChildEvents {
  private readonly seen = new Map<string, Record<string, unknown>>();
  private readonly waiters = new Map<string, (e: Record<string, unknown>) => void>();
  private stderr = '';

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let e: Record<string, unknown>;
      try {
        e = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      const event = String(e.event);
      this.seen.set(event, e);
      this.waiters.get(event)?.(e);
    });
    child.stderr?.on('data', (b: Buffer) => {
      this.stderr = (this.stderr + b.toString('utf8')).slice(-2000);
    });
  }

  /** The last object the child printed for `event`, if any yet. */
  latest(event: string): Record<string, unknown> | undefined {
    return this.seen.get(event);
  }

  /** The event's object, once the child has printed it; rejects if the child exits or time runs out first. */
  next(event: string, timeoutMs: number): Promise<Record<string, unknown>> {
    const had = this.seen.get(event);
    if (had) return Promise.resolve(had);
    return new Promise((resolve, reject) => {
      const finish = (err?: Error, e?: Record<string, unknown>) => {
        clearTimeout(timer);
        this.waiters.delete(event);
        this.child.off('exit', onExit);
        if (err) reject(err);
        else resolve(e!);
      };
      const onExit = (code: number | null, signal: string | null) => {
        // The line may still be in the pipe: give readline a moment.
        setTimeout(() => {
          const e = this.seen.get(event);
          if (e) finish(undefined, e);
          else
            finish(
              new Error(
                `${this.name} exited (${signal ?? `code ${code}`}) before "${event}": ${this.stderr.trim() || 'no output'}`,
              ),
            );
        }, 200);
      };
      const timer = setTimeout(
        () => finish(new Error(`${this.name}: no "${event}" within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
      this.waiters.set(event, (e) => finish(undefined, e));
      this.child.once('exit', onExit);
    });
  }
}
