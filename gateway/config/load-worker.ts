/** The worker thread of loadConfigInWorker(): loads the config file it is given and answers. */
import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError, loadConfig } from './config.js';
import type { WorkerAnswer } from './load-in-worker.js';

let answer: WorkerAnswer;
try {
  answer = { config: loadConfig(workerData as string) };
} catch (err) {
  // Anything else is a fault of ours: thrown, it reaches the caller as the worker's error.
  if (!(err instanceof ConfigError)) throw err;
  answer = { problems: err.problems };
}
parentPort!.postMessage(answer);
