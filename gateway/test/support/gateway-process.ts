/** Runs the real `sensorgate run` CLI as a child process, as a device would. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../deploy/net.js';
import { CLI_PATH as CLI, cliNodeFlags } from '../../cli/cli-path.js';

export { CLI };

export interface GatewayProcess {
  readonly dir: string;
  readonly statusUrl: string;
  /** Start `sensorgate run`; `env` adds variables (e.g. SENSORGATE_FAILPOINT, or LD_PRELOAD for libfaketime). */
  start(env?: Record<string, string>): Promise<void>;
  /** Resolves with the exit code (null when killed by a signal) once the process has ended. */
  exited(): Promise<number | null>;
  /** SIGTERM (or the given signal) and wait; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
  /** Kill if running and remove its directory (config, buffer, logs). */
  dispose(): Promise<void>;
  metrics(): Promise<Map<string, number>>;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  status(): Promise<any>;
  cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** The last lines of the current run's log, for failure messages. */
  logTail(lines?: number): string;
}

export interface GatewayProcessOptions {
  /**
   * start() also waits until every source is up (an MQTT source: subscribed). Until then the
   * broker drops what is published, so a test that counts every reading must wait for it.
   */
  awaitSources?: boolean;
}

/** `config` is a gateway config; gateway.dataDir and status.listen are filled in when absent. */
export async function gatewayProcess(config: any, opts: GatewayProcessOptions = {}): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-gw-'));
  const listen = config.status?.listen ?? `127.0.0.1:${await freePort()}`;
  const cfg = {
    ...config,
    gateway: { dataDir: join(dir, 'data'), ...config.gateway },
    status: { ...config.status, listen },
  };
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(cfg, null, 2));
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const statusUrl = `http://${listen}`;
  let child: ChildProcess | undefined;
  let runs = 0;

  const exited = (c: ChildProcess) =>
    new Promise<number | null>((r) =>
      c.exitCode !== null || c.signalCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code)),
    );

  async function get(path: string): Promise<Response> {
    return fetch(`${statusUrl}${path}`, { signal: AbortSignal.timeout(5000) });
  }

  async function sourcesUp(): Promise<boolean> {
    const { sources } = (await (await get('/api/status')).json()) as { sources: Array<{ state: string }> };
    return sources.every((s) => s.state === 'up');
  }

  const gp: GatewayProcess = {
    dir,
    statusUrl,
    async start(env = {}) {
      const log = openSync(join(dir, 'logs', `run-${++runs}.log`), 'w');
      const c = spawn(process.execPath, [...cliNodeFlags(), CLI, 'run', '--config', configFile], {
        stdio: ['ignore', log, log],
        env: { ...process.env, ...env },
      });
      child = c;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        if (c.exitCode !== null) throw new Error(`gateway exited with ${c.exitCode}; see ${join(dir, 'logs')}`);
        try {
          if ((await get('/healthz')).ok && (!opts.awaitSources || (await sourcesUp()))) return;
        } catch {
          /* not up yet */
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`gateway did not become healthy${opts.awaitSources ? ' with every source up' : ''} within 30 s`);
    },
    async exited() {
      const c = child;
      if (!c) return null;
      const code = await exited(c);
      child = undefined;
      return code;
    },
    async stop(signal = 'SIGTERM') {
      const c = child;
      if (!c) return null;
      child = undefined;
      c.kill(signal);
      return exited(c);
    },
    async kill() {
      const c = child;
      if (!c) return;
      child = undefined;
      c.kill('SIGKILL');
      await exited(c);
    },
    logTail(lines = 40) {
      try {
        return readFileSync(join(dir, 'logs', `run-${runs}.log`), 'utf8')
          .trimEnd()
          .split('\n')
          .slice(-lines)
          .join('\n');
      } catch {
        return '(no log)';
      }
    },
    async dispose() {
      await gp.kill();
      rmSync(dir, { recursive: true, force: true });
    },
    async metrics() {
      const text = await (await get('/metrics')).text();
      const m = new Map<string, number>();
      for (const line of text.split('\n')) {
        if (!line || line.startsWith('#')) continue;
        const i = line.lastIndexOf(' ');
        m.set(line.slice(0, i), Number(line.slice(i + 1)));
      }
      return m;
    },
    async metric(name, labels = {}) {
      // Sum over every series of `name` whose labels include the given ones.
      let sum = 0;
      for (const [series, v] of await gp.metrics()) {
        const [n, rest = ''] = series.split('{');
        if (n !== name) continue;
        if (Object.entries(labels).every(([k, val]) => rest.includes(`${k}="${val}"`))) sum += v;
      }
      return sum;
    },
    async status() {
      return (await get('/api/status')).json();
    },
    cli(args) {
      return new Promise((resolve) => {
        const c = spawn(process.execPath, [CLI, ...args, '--config', configFile], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (d) => (stdout += d));
        c.stderr.on('data', (d) => (stderr += d));
        c.on('exit', (code) => resolve({ code, stdout, stderr }));
      });
    },
  };
  return gp;
}

/** Poll until `check` returns a truthy value. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/**
 * A foreground `sensorgate` command (demo, consume, …) in a process group of its own, so that
 * `ctrlC` reaches it as a terminal's Ctrl-C does: the whole group. Its stdout and stderr collect in
 * `out.text`.
 */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env });
  const out = { text: '' };
  child.stdout!.on('data', (d) => (out.text += d));
  child.stderr!.on('data', (d) => (out.text += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const ctrlC = () => {
    try {
      process.kill(-child.pid!, 'SIGINT');
    } catch {
      /* already gone */
    }
  };
  // Detached, it would outlive a test run that is itself interrupted.
  process.once('exit', ctrlC);
  return { child, out, exited, ctrlC };
}
