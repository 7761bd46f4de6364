// Structured JSON logs (pino). Log ids, counts and reasons; never names, texts, emails or addresses.
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, component: string): Logger {
  return pino({
    level,
    base: { component },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['*.text', '*.email', '*.phone', '*.password', '*.writeKey'], remove: true },
  });
}
