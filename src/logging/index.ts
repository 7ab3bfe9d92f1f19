/** One logger per process: JSON lines on stderr (pino), level from config. */
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

export function createLogger(name: string, level: string = 'info'): Logger {
  return pino({ name, level, base: { service: name } }, pino.destination(2));
}
