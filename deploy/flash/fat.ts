/**
 * A FAT file system inside an image or card, at a byte offset, read and written with mtools
 * (`mcopy -i IMAGE@@OFFSET`): no mount, no root, works on regular files and block devices alike.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, ToolError } from '../pack/exec.js';

const MTOOLS = 'mtools: apt-get install mtools';
// Skip mtools' geometry sanity checks: image partitions rarely match a floppy's CHS layout.
const ENV = { ...process.env, MTOOLS_SKIP_CHECK: '1' };

export class FatVolume {
  private readonly drive: string;

  constructor(
    readonly image: string,
    readonly offset: number,
  ) {
    this.drive = `${image}@@${offset}`;
  }

  private mtools(tool: string, args: string[]): Promise<Buffer> {
    return run(tool, ['-i', this.drive, ...args], { env: ENV, install: MTOOLS });
  }

  async exists(path: string): Promise<boolean> {
    try {
      await this.mtools('mdir', ['-b', `::${path}`]);
      return true;
    } catch (err) {
      if (err instanceof ToolError && /not found|No such file/i.test(err.message)) return false;
      throw err;
    }
  }

  /** A file's bytes, or undefined when there is no such file. */
  async read(path: string): Promise<Buffer | undefined> {
    if (!(await this.exists(path))) return undefined;
    return this.mtools('mcopy', ['-n', `::${path}`, '-']);
  }

  async readText(path: string): Promise<string | undefined> {
    return (await this.read(path))?.toString('utf8');
  }

  /** Write (or overwrite) one file from bytes. */
  async write(path: string, data: string | Buffer): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'sensorgate-fat-'));
    try {
      const local = join(dir, 'file');
      await writeFile(local, data);
      await this.mtools('mcopy', ['-o', local, `::${path}`]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Copy a local directory tree to `::/<its name>`, replacing what was there. */
  async putTree(localDir: string, name: string): Promise<void> {
    if (await this.exists(`/${name}`)) await this.mtools('mdeltree', [`::/${name}`]);
    await this.mtools('mcopy', ['-s', '-o', localDir, `::/${name}`]);
  }

  /** Relative paths of every file below `::/<dir>`. */
  async listTree(dir: string): Promise<string[]> {
    const out = (await this.mtools('mdir', ['-/', '-b', `::/${dir}`])).toString('utf8');
    const prefix = `::/${dir}/`;
    return out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith(prefix) && !l.endsWith('/'))
      .map((l) => l.slice(prefix.length))
      .sort();
  }
}
