/**
 * Crash points for durability tests, in the spirit of etcd's gofail: with
 * SENSORGATE_FAILPOINT=<name>:<n> the process kills itself with SIGKILL the n-th time it reaches
 * failpoint(<name>). Unset (always, in production) it does nothing.
 *
 * Points: `after-send` — Kafka has acknowledged (or committed) a batch, which is not yet deleted
 * from the buffer.
 */
const [armed, nth] = (process.env.SENSORGATE_FAILPOINT ?? '').split(':');
let hits = 0;

export function failpoint(name: string): void {
  if (armed === name && ++hits === Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL');
}
