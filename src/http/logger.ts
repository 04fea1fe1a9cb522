/**
 * The process logger: pino JSON lines; credentials are redacted wherever they could appear. Every
 * line written while a request is handled, by any layer, carries that request's `requestId`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type DestinationStream, type Logger } from 'pino';

/** The id of the request whose handling is running (set per request by the app). */
export const requestContext = new AsyncLocalStorage<string>();

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    redact: {
      paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'apiKeys', 'config.apiKeys'],
      censor: '[redacted]',
    },
    // Fastify's request loggers already carry the id as a binding.
    mixin: (merged: object, _level: number, logger: Logger) => {
      const requestId = requestContext.getStore();
      return requestId === undefined || 'requestId' in merged || 'requestId' in logger.bindings() ? {} : { requestId };
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
