/**
 * systemd's readiness and watchdog protocol (sd_notify(3)) for the Type=notify unit.
 *
 * Node has no unix datagram sockets, so each message is sent by `systemd-notify` (part of
 * systemd, so present wherever NOTIFY_SOCKET is set). It runs as our child, hence
 * NotifyAccess=all in the unit, and by default waits until systemd has read the message
 * (BARRIER=1): systemd tells which unit a message is from by the sender's cgroup, which it can
 * only look up while the sender lives. Outside systemd (no NOTIFY_SOCKET) all this does nothing.
 */
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';

/** Send `KEY=VALUE` assignments; resolves false when not under systemd. */
export function sdNotify(assignments: string[], env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (!env.NOTIFY_SOCKET) return Promise.resolve(false);
  return new Promise((resolve, reject) => {
    execFile('systemd-notify', assignments, { env, timeout: 10_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`systemd-notify ${assignments.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(true);
    });
  });
}

/**
 * How often to ping the watchdog: half of WatchdogSec (WATCHDOG_USEC), if it is meant for this
 * process (WATCHDOG_PID, when set, names the main process).
 */
export function watchdogIntervalMs(
  env: NodeJS.ProcessEnv = process.env,
  pid: number = process.pid,
): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.NOTIFY_SOCKET || !Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

export interface SystemdSession {
  /** STOPPING=1 and no more watchdog pings. */
  stopping(): void;
}

/**
 * READY=1 now, then WATCHDOG=1 every interval from the event loop: if the loop stalls, the pings
 * stop and systemd restarts the service. Failures are logged, never thrown.
 */
export function systemdReady(log: Logger, status: string, env: NodeJS.ProcessEnv = process.env): SystemdSession {
  const warn = (err: Error) => log.warn({ err: err.message }, 'systemd notification failed');
  sdNotify(['READY=1', `STATUS=${status}`], env).catch(warn);
  const every = watchdogIntervalMs(env);
  const timer = every === undefined ? undefined : setInterval(() => sdNotify(['WATCHDOG=1'], env).catch(warn), every);
  timer?.unref();
  return {
    stopping() {
      clearInterval(timer);
      sdNotify(['STOPPING=1'], env).catch(warn);
    },
  };
}
