/**
 * Test helper: a small Raspberry Pi OS-like disk image built with the real tools: an MBR
 * (sfdisk) with a FAT32 boot partition (mkfs.vfat + mcopy: cmdline.txt, config.txt, optionally
 * cloud-init's user-data/meta-data) and an ext4 root (mkfs.ext4 -d: /etc/fstab mounting the
 * boot partition at /boot/firmware, hostname, hosts, group, and an ELF program for the CPU).
 * Each file system is made in its own file, then copied into place with dd.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BOOT_START_SECTOR = 2048;
const MiB = 1024 * 1024;
const BOOT_MiB = 64;
const ROOT_MiB = 16;
const MTOOLS_ENV = { ...process.env, MTOOLS_SKIP_CHECK: '1' };

export const PI_CMDLINE =
  'console=serial0,115200 console=tty1 root=PARTUUID=5e3da3da-02 rootfstype=ext4 fsck.repair=yes rootwait quiet';

export interface ImageOptions {
  /** cmdline.txt's content (default PI_CMDLINE). */
  cmdline?: string;
  /** Extra files on the boot partition, e.g. { 'user-data': '#cloud-config\n…', 'meta-data': '' }. */
  bootFiles?: Record<string, string>;
  /** A program whose ELF header says which CPU the OS is for (default: an arm64 one). */
  program?: string;
  /** Size of the boot partition in MiB (default 64, FAT32; FAT16 below that). */
  bootMiB?: number;
}

/** Byte offset of the boot partition in images made here. */
export const BOOT_OFFSET = BOOT_START_SECTOR * 512;

export function buildRpiImage(dir: string, name: string, opts: ImageOptions = {}): string {
  const work = mkdtempSync(join(tmpdir(), 'sg-img-'));
  const bootMiB = opts.bootMiB ?? BOOT_MiB;
  try {
    const boot = join(work, 'boot.fat');
    writeFileSync(boot, '');
    execFileSync('truncate', ['-s', `${bootMiB}M`, boot]);
    execFileSync('mkfs.vfat', [...(bootMiB >= BOOT_MiB ? ['-F', '32'] : []), '-n', 'BOOTFS', boot], {
      stdio: 'ignore',
    });
    const files: Record<string, string> = {
      'cmdline.txt': `${opts.cmdline ?? PI_CMDLINE}\n`,
      'config.txt': '[all]\narm_64bit=1\ndtparam=audio=on\n',
      ...opts.bootFiles,
    };
    const local = join(work, 'bootfiles');
    mkdirSync(local);
    for (const [file, content] of Object.entries(files)) {
      writeFileSync(join(local, file), content);
      execFileSync('mcopy', ['-i', boot, join(local, file), `::/${file}`], { env: MTOOLS_ENV });
    }

    const rootDir = join(work, 'rootfs');
    mkdirSync(join(rootDir, 'etc'), { recursive: true });
    mkdirSync(join(rootDir, 'usr', 'bin'), { recursive: true });
    writeFileSync(
      join(rootDir, 'etc', 'fstab'),
      [
        'proc            /proc           proc    defaults          0       0',
        'PARTUUID=5e3da3da-01  /boot/firmware  vfat    defaults          0       2',
        'PARTUUID=5e3da3da-02  /               ext4    defaults,noatime  0       1',
        '',
      ].join('\n'),
    );
    writeFileSync(join(rootDir, 'etc', 'hostname'), 'raspberrypi\n');
    writeFileSync(join(rootDir, 'etc', 'hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\t\traspberrypi\n');
    writeFileSync(join(rootDir, 'etc', 'group'), 'root:x:0:\ndialout:x:20:pi\ngpio:x:997:pi\n');
    copyFileSync(
      opts.program ?? '/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1',
      join(rootDir, 'usr', 'bin', 'dpkg'),
    );
    const root = join(work, 'root.ext4');
    writeFileSync(root, '');
    execFileSync('truncate', ['-s', `${ROOT_MiB}M`, root]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-d', rootDir, root], { stdio: 'ignore' });

    const image = join(dir, name);
    const rootStart = BOOT_START_SECTOR + (bootMiB * MiB) / 512;
    writeFileSync(image, '');
    execFileSync('truncate', ['-s', `${1 + bootMiB + ROOT_MiB}M`, image]);
    const table = [
      'label: dos',
      'label-id: 0x5e3da3da',
      `start=${BOOT_START_SECTOR}, size=${(bootMiB * MiB) / 512}, type=c`,
      `start=${rootStart}, type=83`,
      '',
    ].join('\n');
    execFileSync('sfdisk', ['--quiet', image], { input: table });
    execFileSync('dd', [
      `if=${boot}`,
      `of=${image}`,
      'bs=512',
      `seek=${BOOT_START_SECTOR}`,
      'conv=notrunc',
      'status=none',
    ]);
    execFileSync('dd', [`if=${root}`, `of=${image}`, 'bs=512', `seek=${rootStart}`, 'conv=notrunc', 'status=none']);
    return image;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Read a boot-partition file of an image with mtools (independently of the code under test). */
export function readBootFile(image: string, path: string): Buffer {
  return execFileSync('mcopy', ['-n', '-i', `${image}@@${BOOT_OFFSET}`, `::/${path}`, '-'], {
    env: MTOOLS_ENV,
    maxBuffer: 1 << 28,
  });
}

/** Every path on an image's boot partition (directories end with /). */
export function listBoot(image: string): string[] {
  const out = execFileSync('mdir', ['-/', '-b', '-i', `${image}@@${BOOT_OFFSET}`, '::/'], { env: MTOOLS_ENV }).toString(
    'utf8',
  );
  return out
    .split('\n')
    .map((l) => l.trim().replace(/^::\//, ''))
    .filter(Boolean)
    .sort();
}

/** Copy the boot partition's files into a local directory, as the device would see them mounted. */
export function extractBoot(image: string, dest: string): void {
  mkdirSync(dest, { recursive: true });
  execFileSync('mcopy', ['-s', '-n', '-i', `${image}@@${BOOT_OFFSET}`, '::/*', dest], { env: MTOOLS_ENV });
}
