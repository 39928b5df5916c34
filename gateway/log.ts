/** Structured logs: JSON lines on stdout (journald keeps them). */
import { pino, type Logger } from 'pino';

export function createLogger(level: string = 'info'): Logger {
  return pino({ level, base: { pid: process.pid } });
}
