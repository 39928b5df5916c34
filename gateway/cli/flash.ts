/** `sensorgate flash` (docs/reference/cli.md): customise a Raspberry Pi OS image or card. The work is in deploy/flash. */
import { type Command, Option } from 'commander';
import { type FlashOptions, flash } from '../../deploy/flash/flash.js';
import { progressBar } from '../../deploy/flash/progress.js';
import { ARCHES } from '../../deploy/pack/targets.js';
import { gatewayConfigRules, refusedAsConfigError } from './deploy-config.js';
import { action } from './exit.js';

/** The command's options are the library's, less what only a program passes in. */
type FlashCliOptions = Omit<FlashOptions, 'log' | 'progress' | 'configRules'>;

export function defineFlash(command: Command): void {
  command
    .requiredOption('--image <img>', 'Raspberry Pi OS image (.img, uncompressed)')
    .requiredOption('-c, --config <file>', "the device's gateway config (YAML), validated before anything is written")
    .option(
      '-o, --out <img>',
      'write the customised image here (default: IMG-<gateway id>.img beside IMG, unless --device is given)',
    )
    .option(
      '--device <dev>',
      'write the (customised) image to this card, e.g. /dev/sdX, and verify it by reading it back',
    )
    .option('--bundle <file>', "bundle from `sensorgate pack` (default: pack one for the image's architecture)")
    .addOption(new Option('--arch <arch>', 'architecture to pack for when the image does not tell').choices(ARCHES))
    .option(
      '--credentials <dir>',
      'secrets, one file each: SENSORGATE_<PATH> ones fill that config key (e.g. SENSORGATE_KAFKA_SASL_PASSWORD), others are files the config refers to (docs/deploy.md)',
    )
    .option('--hostname <name>', 'host name for the device')
    .option('-y, --yes', 'confirm erasing --device')
    .action(
      action('flash', async (opts: FlashCliOptions) => {
        const result = await refusedAsConfigError(
          flash({
            ...opts,
            configRules: gatewayConfigRules,
            log: (line) => process.stderr.write(`flash: ${line}\n`),
            progress: progressBar,
          }),
        );
        process.stdout.write(
          `${JSON.stringify({ targets: result.targets, mode: result.mode, identity: result.identity })}\n`,
        );
      }),
    );
}
