/** `sensorgate pack` (docs/reference/cli.md): the offline device bundle. The work is in deploy/pack. */
import { type Command, Option } from 'commander';
import { pack } from '../../deploy/pack/pack.js';
import { ARCHES, type Arch } from '../../deploy/pack/targets.js';
import { action } from './exit.js';

export function definePack(command: Command): void {
  command
    .addOption(new Option('--arch <arch>', 'device architecture').choices(ARCHES).default('arm64'))
    .requiredOption('-o, --out <file>', 'bundle to write (.tar.gz)')
    .option(
      '--nodedir <dir>',
      'Node.js headers to compile against (default: those of the node running this); the device needs that Node major version',
    )
    .option(
      '--no-cache',
      'rebuild native modules instead of reusing ones built before (cache: $SENSORGATE_CACHE or ~/.cache/sensorgate/native)',
    )
    .action(
      action('pack', async (opts: { arch: Arch; out: string; nodedir?: string; cache: boolean }) => {
        const result = await pack({ ...opts, log: (line) => process.stderr.write(`${line}\n`) });
        process.stdout.write(
          `${JSON.stringify({ out: result.out, bytes: result.bytes, sha256: result.sha256, arch: result.manifest.arch, node: result.manifest.node })}\n`,
        );
      }),
    );
}
