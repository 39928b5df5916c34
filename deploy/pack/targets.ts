/** The devices a bundle can be built for, and how to tell an ELF file's machine. */
import { closeSync, openSync, readSync } from 'node:fs';

export const ARCHES = ['arm64', 'armv7l', 'x64'] as const;
export type Arch = (typeof ARCHES)[number];

export interface Target {
  readonly arch: Arch;
  /** process.arch on the device; node-gyp's --arch and npm's --cpu. */
  readonly nodeArch: 'arm64' | 'arm' | 'x64';
  /** GNU triple: prefix of the (cross) compiler, e.g. aarch64-linux-gnu-g++. */
  readonly triple: string;
  /** The Debian package that provides that compiler. */
  readonly toolchainPackage: string;
  /** ELF e_machine of code for this target. */
  readonly elfMachine: number;
  readonly devices: string;
}

export const TARGETS: Readonly<Record<Arch, Target>> = {
  arm64: {
    arch: 'arm64',
    nodeArch: 'arm64',
    triple: 'aarch64-linux-gnu',
    toolchainPackage: 'g++-aarch64-linux-gnu',
    elfMachine: 183,
    devices: 'Raspberry Pi 3/4/5, Zero 2 W and CM4/CM5 with a 64-bit OS; industrial arm64 boxes',
  },
  armv7l: {
    arch: 'armv7l',
    nodeArch: 'arm',
    triple: 'arm-linux-gnueabihf',
    toolchainPackage: 'g++-arm-linux-gnueabihf',
    elfMachine: 40,
    devices: 'Raspberry Pi 2/3/4 and Zero 2 W with a 32-bit OS (ARMv7; not ARMv6 boards such as the Pi 1 and Zero W)',
  },
  x64: {
    arch: 'x64',
    nodeArch: 'x64',
    triple: 'x86_64-linux-gnu',
    toolchainPackage: 'g++-x86-64-linux-gnu',
    elfMachine: 62,
    devices: 'x86-64 industrial PCs and VMs',
  },
};

export function isArch(value: string): value is Arch {
  return (ARCHES as readonly string[]).includes(value);
}

/** The target whose code this machine runs, if it is one of ours. */
export function hostArch(): Arch | undefined {
  return ARCHES.find((a) => TARGETS[a].nodeArch === process.arch);
}

const ELF_NAMES: Record<number, string> = { 3: 'x86', 40: 'ARM (32-bit)', 62: 'x86-64', 183: 'AArch64' };

export function elfMachineName(machine: number): string {
  return ELF_NAMES[machine] ?? `ELF machine ${machine}`;
}

/** e_machine of an ELF file, or undefined when it is not one (read from its header, no tools needed). */
export function readElfMachine(file: string): number | undefined {
  const header = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    return elfMachine(header.subarray(0, readSync(fd, header, 0, header.length, 0)));
  } finally {
    closeSync(fd);
  }
}

/** e_machine from the first 20 bytes of an ELF file. */
export function elfMachine(header: Buffer): number | undefined {
  if (header.length < 20 || header.readUInt32BE(0) !== 0x7f454c46) return undefined; // "\x7fELF"
  // EI_DATA (byte 5): 1 little-endian, 2 big-endian; e_machine is the u16 at offset 18.
  return header[5] === 2 ? header.readUInt16BE(18) : header.readUInt16LE(18);
}

/** The target of an ELF header's machine, for messages and image detection. */
export function archOfMachine(machine: number): Arch | undefined {
  return ARCHES.find((a) => TARGETS[a].elfMachine === machine);
}
