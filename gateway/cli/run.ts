/** `sensorgate run` (docs/reference/cli.md): the gateway daemon, until SIGTERM or SIGINT. */
import type { Command } from 'commander';
import { configOption, configOrExit } from './config-or-exit.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the gateway daemon until SIGTERM/SIGINT; invalid config exits 2')
    .addOption(configOption())
    .action(async (opts: { config: string }) => {
      const cfg = await configOrExit(opts.config);
      // The gateway's modules load once the config's worker is gone: loaded before, they and
      // the worker's validator would be resident at once, and that peak is the daemon's VmHWM.
      const [{ Gateway }, { createLogger }] = await Promise.all([import('../gateway.js'), import('../lib/log.js')]);
      // What the daemon creates (the buffer and its journal, set-aside damaged copies) holds
      // readings and is nobody else's business: owner only, as systemd's UMask=0077 gives it too.
      process.umask(0o077);
      const log = createLogger(cfg.log.level);
      const gateway = new Gateway(cfg, log);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'stopping');
        gateway.stop().then(
          () => process.exit(0),
          (err: Error) => {
            log.error({ err: err.message }, 'stop failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      try {
        await gateway.start();
      } catch (err) {
        log.fatal({ err: (err as Error).message }, 'gateway failed to start');
        await gateway.stop().catch(() => undefined);
        process.exit(1);
      }
    });
}
