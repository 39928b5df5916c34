/** `sensorgate provision`: images or config folders for a fleet. The work is in deploy/provision. */
import { type Command, Option } from 'commander';
import { ARCHES, type Arch } from '../../deploy/pack/targets.js';
import { provision } from '../../deploy/provision/provision.js';
import { gatewayConfigRules, refusedAsConfigError } from './deploy-config.js';
import { action } from './exit.js';

export function defineProvision(command: Command): void {
  command
    .requiredOption(
      '-i, --inventory <file>',
      'inventory (YAML): defaults, shared credentials, devices with id, hostname, config and credentials (docs/deploy.md)',
    )
    .requiredOption('-o, --out <dir>', 'where the images (<id>.img) or folders (<id>/) go')
    .option('--image <img>', 'Raspberry Pi OS image to customise per device (never modified)')
    .option('--bundle <file>', "bundle from `sensorgate pack` (default: pack one for the image's architecture)")
    .addOption(new Option('--arch <arch>', 'architecture to pack for when the image does not tell').choices(ARCHES))
    .action(
      action(
        'provision',
        async (opts: { inventory: string; out: string; image?: string; bundle?: string; arch?: Arch }) => {
          const devices = await refusedAsConfigError(
            provision({
              ...opts,
              configRules: gatewayConfigRules,
              log: (line) => process.stderr.write(`provision: ${line}\n`),
            }),
          );
          process.stdout.write(`${JSON.stringify(devices)}\n`);
        },
      ),
    );
}
