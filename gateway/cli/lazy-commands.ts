/**
 * Commands that do not run on a device (the demo, the simulator, the fleet page, the consumer, the
 * deploy tooling) are only named up front. The module of one, and what it brings (aedes,
 * firmware-sim, deploy/), is loaded when the command line asks for that command (to run it or for
 * its help): `run` loads only what it needs, and the device bundle (docs/deploy.md) leaves them
 * out. Asked for in such a bundle, one of them says so in a line and exits 1.
 */
import { type Command, Help } from 'commander';

export interface LazyCommand {
  name: string;
  description: string;
  /** Loads the command's module; what it returns adds the options and the action. */
  load: () => Promise<(command: Command) => void>;
}

/**
 * Add `commands` to `program`, loading the one `args` asks for: its first word (the program's own
 * options take no value), or the word after `help`.
 */
export async function addLazyCommands(
  program: Command,
  commands: readonly LazyCommand[],
  args: readonly string[],
): Promise<void> {
  const lazy = new Map(commands.map((c) => [program.command(c.name).description(c.description), c]));
  // Their options are not known until loaded; each has some, and the list of commands says so.
  const help = new Help();
  program.configureHelp({
    subcommandTerm: (command) => (lazy.has(command) ? `${command.name()} [options]` : help.subcommandTerm(command)),
  });

  const words = args.filter((a) => !a.startsWith('-'));
  const asked = words[0] === 'help' ? words[1] : words[0];
  const entry = [...lazy].find(([, c]) => c.name === asked);
  if (!entry) return;
  const [command, c] = entry;
  let define: (command: Command) => void;
  try {
    define = await c.load();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    process.stderr.write(`sensorgate: ${c.name} is not part of this device bundle; install the full package\n`);
    process.exit(1);
  }
  define(command);
}
