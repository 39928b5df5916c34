/**
 * How a Raspberry Pi OS image is made to run our first-boot script once:
 * - Bookworm and earlier: through the kernel command line in cmdline.txt, the way Raspberry Pi
 *   Imager does it (systemd.run= runs the script in kernel-command-line.target, then reboots);
 * - newer images that boot with cloud-init (user-data/meta-data on the boot partition): a runcmd
 *   entry in user-data, which cloud-init runs once per instance.
 * Pure functions of the files' text; flash.ts reads and writes them.
 */
import { isMap, isSeq, parseDocument, YAMLSeq } from 'yaml';

export type BootMode = 'cmdline' | 'cloud-init';

/** What decides the mode: the files Raspberry Pi OS's boot partition has. */
export function bootModeOf(files: { userData: boolean; metaData: boolean; cmdline: boolean }): BootMode {
  if (files.userData || files.metaData) return 'cloud-init';
  if (files.cmdline) return 'cmdline';
  throw new Error('the boot partition has neither cmdline.txt nor cloud-init user-data: not a Raspberry Pi OS image');
}

const HOOK_PARAM = /^systemd\.(run|run_success_action|run_failure_action)=|^systemd\.unit=kernel-command-line\.target$/;

export interface CmdlineHook {
  cmdline: string;
  /** A first-boot script the line ran before ours, relative to the boot partition: ours runs it first. */
  previous?: string;
}

/**
 * cmdline.txt (one line) with `hook` as the first-boot script. A systemd.run= script already
 * there (Raspberry Pi Imager's firstrun.sh) is replaced and returned, to be chained.
 */
export function hookCmdline(cmdline: string, hook: string, bootMount: string): CmdlineHook {
  const words = cmdline.trim().split(/\s+/).filter(Boolean);
  const run = words.find((w) => w.startsWith('systemd.run='))?.slice('systemd.run='.length);
  const kept = words.filter((w) => !HOOK_PARAM.test(w));
  const line = [
    ...kept,
    `systemd.run=${hook}`,
    'systemd.run_success_action=reboot',
    'systemd.run_failure_action=reboot',
    'systemd.unit=kernel-command-line.target',
  ].join(' ');
  if (run === undefined || run === hook) return { cmdline: `${line}\n` };
  // Imager writes /boot/firstrun.sh even where the partition is mounted at /boot/firmware.
  const onBoot = [`${bootMount}/`, '/boot/firmware/', '/boot/'].find((p) => run.startsWith(p));
  if (!onBoot)
    throw new Error(
      `cmdline.txt already runs ${run} at first boot, which is not on the boot partition; remove that hook first`,
    );
  return { cmdline: `${line}\n`, previous: run.slice(onBoot.length) };
}

/** cloud-init user-data with a runcmd entry that runs `hook --start` (and the hostname, when given). */
export function hookUserData(userData: string | undefined, hook: string, hostname?: string): string {
  const text = userData ?? '';
  if (text.trim() && !text.trimStart().startsWith('#cloud-config')) {
    throw new Error(
      'user-data on the boot partition is not a #cloud-config document; cannot add the first-boot step to it',
    );
  }
  const doc = parseDocument(text.trim() ? text : '{}');
  if (doc.errors.length) throw new Error(`user-data is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  if (!isMap(doc.contents)) throw new Error('user-data must be a YAML mapping (#cloud-config)');
  const entry = ['sh', hook, '--start'];
  const existing = doc.get('runcmd');
  const runcmd = isSeq(existing) ? existing : new YAMLSeq();
  // Flashing the same image twice must not run the hook twice.
  runcmd.items = runcmd.items.filter((item) => !JSON.stringify(item).includes(hook));
  runcmd.items.push(doc.createNode(entry));
  doc.set('runcmd', runcmd);
  if (hostname) doc.set('hostname', hostname);
  doc.commentBefore = null;
  return `#cloud-config\n${doc.toString()}`;
}
