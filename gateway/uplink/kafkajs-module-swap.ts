/**
 * Puts a replacement in place of one of kafkajs's own CommonJS modules, for the fixes that
 * gateway/uplink/kafkajs.ts installs. kafkajs's modules take each other when they load, so the
 * replacement must be in Node's module cache before `takenBy` (the kafkajs module that takes it)
 * loads; if `takenBy` is already loaded, this throws rather than replace what nothing would use.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function swapKafkajsModule(module: string, replacement: unknown, takenBy: string): void {
  if (require.cache[require.resolve(takenBy)]) {
    throw new Error(
      `kafkajs's ${takenBy} was loaded before ${module} was replaced: import kafkajs through gateway/uplink/kafkajs.ts`,
    );
  }
  require(module);
  const cached = require.cache[require.resolve(module)];
  if (!cached) throw new Error(`${module} did not load as a CommonJS module`);
  cached.exports = replacement;
}
