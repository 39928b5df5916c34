/**
 * The partitions of a disk image or card, read with sfdisk (util-linux) as JSON: no mounting, no
 * loop devices, no root. A Raspberry Pi OS image has a FAT boot partition and an ext4 root.
 */
import { run } from '../pack/exec.js';

export interface Partition {
  readonly number: number;
  /** Byte offset of the partition in the image. */
  readonly offset: number;
  readonly bytes: number;
  /** MBR type ("c") or GPT type GUID, lower case. */
  readonly type: string;
}

export interface DiskLayout {
  readonly label: 'dos' | 'gpt';
  readonly partitions: Partition[];
  readonly boot: Partition;
  /** The Linux root, when there is one. */
  readonly root?: Partition;
}

// MBR types of FAT12/16/32 (CHS and LBA), GPT's ESP and "basic data" (where FAT lives on GPT).
const FAT_TYPES = new Set([
  '1',
  '4',
  '6',
  'b',
  'c',
  'e',
  'ef',
  'c12a7328-f81f-11d2-ba4b-00a0c93ec93b',
  'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7',
]);
const LINUX_TYPES = new Set(['83', '0fc63daf-8483-4772-8e79-3d69d8477de4', 'b921b045-1df0-41c3-af44-4c6f280d3fae']);

interface SfdiskJson {
  partitiontable: {
    label: string;
    sectorsize?: number;
    partitions?: { node: string; start: number; size: number; type: string }[];
  };
}

export async function readDiskLayout(image: string): Promise<DiskLayout> {
  let json: SfdiskJson;
  try {
    json = JSON.parse(
      (await run('sfdisk', ['--json', image], { install: 'fdisk (util-linux): apt-get install fdisk' })).toString(
        'utf8',
      ),
    );
  } catch (err) {
    throw new Error(
      `${image}: no readable partition table (is it a disk image?): ${(err as Error).message.split('\n').slice(-1)[0]}`,
    );
  }
  const table = json.partitiontable;
  const sector = table.sectorsize ?? 512;
  const partitions = (table.partitions ?? []).map((p) => ({
    number: Number(/(\d+)$/.exec(p.node)?.[1] ?? 0),
    offset: p.start * sector,
    bytes: p.size * sector,
    type: p.type.toLowerCase(),
  }));
  const boot = partitions.find((p) => FAT_TYPES.has(p.type));
  if (!boot)
    throw new Error(
      `${image}: no FAT boot partition (partition types: ${partitions.map((p) => p.type).join(', ') || 'none'})`,
    );
  const root = partitions.find((p) => LINUX_TYPES.has(p.type));
  return { label: table.label === 'gpt' ? 'gpt' : 'dos', partitions, boot, ...(root ? { root } : {}) };
}
