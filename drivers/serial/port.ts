/**
 * Opening serial ports, shared by the line/JSONL and Modbus drivers. `serialport` is imported
 * lazily so that configs without a serial source never load its native binding.
 */
import { stat } from 'node:fs/promises';
import type { SerialPort } from 'serialport';

export interface SerialLineSettings {
  path: string;
  baudRate: number;
  /** 5-8 and 1-2, as the config schema allows. */
  dataBits: number;
  parity: 'none' | 'even' | 'odd';
  stopBits: number;
}

/** Open a port; rejects with the binding's error (ENOENT, EACCES, EBUSY …). */
export async function openSerialPort(s: SerialLineSettings): Promise<SerialPort> {
  const { SerialPort } = await import('serialport');
  const port = new SerialPort({
    path: s.path,
    baudRate: s.baudRate,
    dataBits: s.dataBits as 5 | 6 | 7 | 8,
    parity: s.parity,
    stopBits: s.stopBits as 1 | 2,
    autoOpen: false,
  });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  return port;
}

/** Close a port (an error closing it is of no use to anyone: the port is gone either way). */
export function closeSerialPort(port: SerialPort): Promise<void> {
  return new Promise((resolve) => port.close(() => resolve()));
}

/** How often an open port's device node is checked (one stat() call). */
export const PRESENCE_CHECK_MS = 500;

/**
 * Calls `gone` once the device node at `path` disappears or is replaced by another device, and
 * returns the function that stops watching. Read errors alone do not reveal an unplug: the kernel
 * hangs up a USB serial tty (or a pty whose other end closed), a read can then return end-of-file
 * rather than fail, and serialport retries such reads forever, busy, never emitting 'close'.
 */
export async function watchPresence(path: string, gone: () => void): Promise<() => void> {
  const identity = await stat(path).catch(() => undefined);
  let stopped = false;
  const check = async (): Promise<void> => {
    const now = await stat(path).catch(() => undefined);
    if (stopped) return;
    if (!identity || !now || now.rdev !== identity.rdev || now.ino !== identity.ino) {
      stopped = true;
      clearInterval(timer);
      gone();
    }
  };
  const timer = setInterval(() => void check(), PRESENCE_CHECK_MS);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

/**
 * Why a port could not be opened, for the status page. When the device node is missing the ports
 * that do exist are listed, which is what one needs after an adapter re-enumerated as ttyUSB1.
 * Listing uses udevadm on Linux; where that is missing or hangs the hint says so and nothing fails.
 */
export async function describeOpenFailure(path: string, err: Error): Promise<string> {
  const base = openFailure(path, err);
  if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !/no such file/i.test(err.message)) return base;
  return `${base} (${await listPorts()})`;
}

/** "cannot open PATH: reason", without the binding's repetition ("Error: …, cannot open PATH"). */
export function openFailure(path: string, err: Error): string {
  const reason = err.message.replace(/^Error: /, '').replace(/, cannot open .*$/, '');
  return `cannot open ${path}: ${reason}`;
}

const LIST_TIMEOUT_MS = 3000;

async function listPorts(): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const { SerialPort } = await import('serialport');
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), LIST_TIMEOUT_MS);
    });
    const ports = await Promise.race([SerialPort.list(), timeout]);
    return ports.length ? `present: ${ports.map((p) => p.path).join(', ')}` : 'no serial ports present';
  } catch (err) {
    return `port listing unavailable: ${(err as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}
