/**
 * A config file loaded and validated in a worker thread, for the commands that run on a device.
 *
 * The validator (zod with every locale it ships, yaml, the schema) is the largest thing the
 * daemon would load, and it is needed once, at start. A module stays loaded for the life of the
 * thread that imported it; a worker's go with the worker. On x86-64 with Node 20, loading the
 * validator took a fresh process's RssAnon from 7 to 17 MiB; with the gateway's modules loaded
 * after it, the process kept about 3 MiB less when the validator had run in a worker.
 */
import { Worker } from 'node:worker_threads';
import { deepFreeze } from '../lib/deep-freeze.js';
import { ConfigError } from './config-error.js';
import type { Config } from './schema.js';

/** What the worker (load-worker.ts) answers. */
export type WorkerAnswer = { config: Config } | { problems: string[] };

/**
 * The config in `file` with the SENSORGATE_* variables of this process applied, as loadConfig()
 * gives it; a ConfigError when it is refused. Any other failure of the `loader` module (a bug:
 * it throws, or exits without answering) rejects with that failure.
 */
export function loadConfigInWorker(
  file: string,
  loader = new URL('./load-worker.js', import.meta.url),
): Promise<Readonly<Config>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(loader, { workerData: file });
    worker.once('message', (answer: WorkerAnswer) => {
      if ('config' in answer) resolve(deepFreeze(answer.config));
      else reject(new ConfigError(answer.problems));
    });
    worker.once('error', reject);
    // After an answer or an error this changes nothing; without either, the worker died.
    worker.once('exit', (code) => reject(new Error(`the config loader exited (code ${code}) without an answer`)));
  });
}
