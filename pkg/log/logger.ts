// Structured logging: pino JSON, one line per event. Child loggers carry pod/container ids.
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function createLogger(level: LogLevel = 'info', destination?: NodeJS.WritableStream): Logger {
  const opts = { level: level as LevelWithSilent, base: { svc: 'bulkheadd' }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination ? pino(opts, destination) : pino(opts);
}

/** A logger that discards everything (tests, CLI helpers). */
export const silentLogger: Logger = pino({ level: 'silent' });
