/**
 * Writing an image to a card (`flash --device /dev/sdX`) and reading it back to verify.
 * The target may also be a regular file, which is how the tests exercise this.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, realpath, stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { run } from '../pack/exec.js';
import type { Progress } from './progress.js';

export type ProgressFactory = (label: string, total: number) => Progress;

const CHUNK = 4 * 1024 * 1024;

async function isBlockDevice(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isBlockDevice() ?? false;
}

/**
 * Refuse a block device that is mounted (its own or a partition's mount) or that the user did
 * not confirm with `yes`: writing erases it. Regular files are always fine.
 */
export async function checkTargetDevice(device: string, yes: boolean, imageBytes: number): Promise<void> {
  if (!(await isBlockDevice(device))) return;
  const dev = await realpath(device);
  const mounts = (await readFile('/proc/mounts', 'utf8'))
    .split('\n')
    .map((l) => l.split(' '))
    .filter(([src]) => src?.startsWith('/dev/'));
  for (const [src, where] of mounts) {
    const source = await realpath(src!).catch(() => src!);
    if (source === dev || (source.startsWith(dev) && /^p?\d+$/.test(source.slice(dev.length)))) {
      throw new Error(`${device}: ${source} is mounted at ${where}; unmount it first`);
    }
  }
  const capacity = Number((await run('blockdev', ['--getsize64', dev], { install: 'util-linux' })).toString().trim());
  if (capacity < imageBytes) throw new Error(`${device} holds ${capacity} bytes, the image needs ${imageBytes}`);
  if (!yes)
    throw new Error(`this erases everything on ${device} (${(capacity / 1e9).toFixed(1)} GB); add --yes to go ahead`);
}

/** Copy `src` over the start of `dest` with progress, flush it to the medium, read it back and compare. */
export async function writeAndVerify(
  src: string,
  dest: string,
  progress: ProgressFactory,
): Promise<{ bytes: number; sha256: string }> {
  const bytes = (await stat(src)).size;
  const block = await isBlockDevice(dest);
  const written = createHash('sha256');
  const bar = progress(`writing ${dest}`, bytes);
  try {
    let done = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        written.update(chunk);
        done += chunk.length;
        bar.update(done);
        cb(null, chunk);
      },
    });
    await pipeline(
      createReadStream(src, { highWaterMark: CHUNK }),
      meter,
      createWriteStream(dest, { flags: block ? 'r+' : 'w' }),
    );
  } finally {
    bar.stop();
  }
  // On the medium, and the kernel's cached copy dropped: the read-back comes from the card.
  await syncTarget(dest);

  const expected = written.digest('hex');
  const actual = await hashPrefix(dest, bytes, progress(`verifying ${dest}`, bytes));
  if (actual !== expected)
    throw new Error(
      `verification failed: ${dest} does not read back what was written (sha256 ${actual}, expected ${expected})`,
    );
  return { bytes, sha256: expected };
}

/** sha256 of the first `bytes` bytes of a file or device. */
export async function hashPrefix(path: string, bytes: number, bar: Progress): Promise<string> {
  const hash = createHash('sha256');
  let done = 0;
  try {
    for await (const chunk of createReadStream(path, { start: 0, end: bytes - 1, highWaterMark: CHUNK })) {
      hash.update(chunk as Buffer);
      done += (chunk as Buffer).length;
      bar.update(done);
    }
  } finally {
    bar.stop();
  }
  if (done !== bytes) throw new Error(`verification failed: ${path} ends after ${done} of ${bytes} bytes`);
  return hash.digest('hex');
}

/** Flush a target's writes to the medium (after mtools edited it in place). */
export async function syncTarget(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (await isBlockDevice(path)) await run('blockdev', ['--flushbufs', path], { install: 'util-linux' });
}
