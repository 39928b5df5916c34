/**
 * How a foreground command (fleet, consume, sim, demo) is told to stop: the first SIGINT or
 * SIGTERM. Both listeners are `once`: a second signal of the same kind, while the command stops
 * what it started, gets Node's default and ends the process.
 */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}
