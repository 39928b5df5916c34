/** Runs the real `sensorgate fleet` CLI as a child process, as an operator does. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../deploy/net.js';
import { CLI, waitFor } from './gateway-process.js';

export interface FleetProcess {
  url: string;
  pid: number;
  stop(): Promise<void>;
  log(): string;
}

/** Resolves once it has read the topic (/healthz 200). */
export async function fleetProcess(
  brokers: string[],
  topic: string,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<FleetProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-fleet-'));
  const port = await freePort();
  const logFile = join(dir, 'fleet.log');
  const out = openSync(logFile, 'w');
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, 'fleet', '--brokers', brokers.join(','), '--port', String(port), '--topic', topic, ...extra],
    { stdio: ['ignore', out, out], env: { ...process.env, ...env } },
  );
  const url = `http://127.0.0.1:${port}`;
  const log = () => readFileSync(logFile, 'utf8');
  await waitFor(
    `fleet server ready (${logFile})`,
    async () => {
      if (child.exitCode !== null) throw new Error(`fleet server exited ${child.exitCode}: ${log()}`);
      return (await fetch(`${url}/healthz`).catch(() => undefined))?.status === 200;
    },
    60_000,
  );
  return {
    url,
    pid: child.pid!,
    log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
