/** The process logger: pino JSON lines; credentials are redacted wherever they could appear. */
import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'apiKeys', 'config.apiKeys'], censor: '[redacted]' },
  });
}
