/**
 * What flashing needs to know from the image's ext4 root file system, read with debugfs
 * (e2fsprogs) at the partition's offset, read-only and without mounting: where the boot
 * partition is mounted (/boot/firmware since Bookworm, /boot before) and the CPU the OS is for.
 */
import { run } from '../pack/exec.js';
import { type Arch, archOfMachine, elfMachine } from '../pack/targets.js';

export interface RootFacts {
  /** Mount point of the FAT boot partition on the device, from /etc/fstab. */
  readonly bootMount?: string;
  /** The OS's architecture, from the ELF header of one of its programs. */
  readonly arch?: Arch;
}

/** A file of the ext4 file system at `offset`, or undefined when it cannot be read. */
export async function readExtFile(image: string, offset: number, path: string): Promise<Buffer | undefined> {
  // debugfs takes an io option after '?'; without -w it opens the file system read-only.
  const out = await run('debugfs', ['-R', `cat ${path}`, `${image}?offset=${offset}`], {
    install: 'e2fsprogs: apt-get install e2fsprogs',
  }).catch(() => undefined);
  return out && out.length > 0 ? out : undefined;
}

/** The vfat mount point below /boot in an fstab. */
export function bootMountFromFstab(fstab: string): string | undefined {
  for (const line of fstab.split('\n')) {
    const [, mountPoint, fsType] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (fsType === 'vfat' && mountPoint?.startsWith('/boot')) return mountPoint;
  }
  return undefined;
}

// Programs every Debian-based root has, tried in order (/bin is a symlink on merged-/usr systems).
const PROBES = ['/usr/bin/dpkg', '/usr/bin/env', '/bin/sh'];

export async function readRootFacts(image: string, offset: number): Promise<RootFacts> {
  const fstab = await readExtFile(image, offset, '/etc/fstab');
  const bootMount = fstab && bootMountFromFstab(fstab.toString('utf8'));
  let arch: Arch | undefined;
  for (const probe of PROBES) {
    const bytes = await readExtFile(image, offset, probe);
    const machine = bytes && elfMachine(bytes);
    if (machine !== undefined) {
      arch = archOfMachine(machine);
      break;
    }
  }
  return { ...(bootMount ? { bootMount } : {}), ...(arch ? { arch } : {}) };
}
