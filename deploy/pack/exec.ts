/** Running the external tools packing and flashing rely on (npm, node-gyp, tar, sfdisk, mtools …). */
import { type SpawnOptions, spawn } from 'node:child_process';

export class ToolError extends Error {
  constructor(
    message: string,
    readonly command: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'ToolError';
  }
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes written to the tool's stdin. */
  input?: string | Buffer;
  /** A hint appended to the "not found" error, e.g. which package provides the tool. */
  install?: string;
}

const STDERR_TAIL = 4000;

/** Run a tool to completion and return its stdout; a non-zero exit throws with the end of its stderr. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<Buffer> {
  const spawnOpts: SpawnOptions = { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] };
  const shown = [cmd, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, spawnOpts);
    const out: Buffer[] = [];
    let err = '';
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => {
      err = (err + b.toString('utf8')).slice(-STDERR_TAIL);
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      const hint = e.code === 'ENOENT' && opts.install ? ` (install ${opts.install})` : '';
      reject(new ToolError(`${cmd}: ${e.code === 'ENOENT' ? 'not found' : e.message}${hint}`, shown, ''));
    });
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(out));
      const why = signal ? `killed by ${signal}` : `exit code ${code}`;
      reject(new ToolError(`${shown} failed (${why})${err.trim() ? `:\n${err.trim()}` : ''}`, shown, err));
    });
    child.stdin!.on('error', () => undefined); // a tool may exit without reading its input
    child.stdin!.end(opts.input ?? '');
  });
}
