/**
 * Structured logs: JSON lines on stdout (journald keeps them). Levels are written as words
 * ("warn", not 40) so that `journalctl | grep` and people can read them; times are ISO 8601.
 * Secrets are censored wherever a config fragment might end up in a log line.
 */
import { type Logger, pino } from 'pino';

const SECRET_LOG_PATHS = [
  'password',
  'authToken',
  '*.password',
  '*.authToken',
  '*.*.password',
  'sasl.password',
  'kafka.sasl.password',
];

export function createLogger(level: string = 'info'): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: SECRET_LOG_PATHS, censor: '***' },
  });
}
