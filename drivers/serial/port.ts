/**
 * Opening serial ports, shared by the line/JSONL and Modbus drivers. `serialport` is imported
 * lazily so that configs without a serial source never load its native binding.
 */
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
    path: s.path, baudRate: s.baudRate, dataBits: s.dataBits as 5 | 6 | 7 | 8, parity: s.parity, stopBits: s.stopBits as 1 | 2, autoOpen: false,
  });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  return port;
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
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('timed out')), LIST_TIMEOUT_MS); });
    const ports = await Promise.race([SerialPort.list(), timeout]);
    return ports.length ? `present: ${ports.map((p) => p.path).join(', ')}` : 'no serial ports present';
  } catch (err) {
    return `port listing unavailable: ${(err as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}
