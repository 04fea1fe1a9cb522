/**
 * `softpatch serve`: the HTTP service on PORT/HOST with the settings of the environment
 * (src/common/config.ts). SIGTERM/SIGINT shut it down gracefully: readiness turns 503 while
 * requests are still served for DRAIN_MS (the load balancer takes the instance out of rotation),
 * then the listener stops accepting, running inspections finish, builds stop cleanly (recorded as
 * interrupted).
 */
import closeWithGrace from 'close-with-grace';
import type { ServiceConfig } from '../common/config.js';
import { buildApp } from '../http/app.js';
import { createLogger } from '../http/logger.js';
import { createService } from '../service/index.js';

/** How long the graceful shutdown may take after the drain before the process exits anyway. */
const SHUTDOWN_GRACE_MS = 30_000;

export async function serve(config: ServiceConfig): Promise<void> {
  const logger = createLogger(config.logLevel);
  const service = await createService(config, logger);
  const app = await buildApp({ service, config, logger });
  closeWithGrace({ delay: config.drainMs + SHUTDOWN_GRACE_MS, logger }, async ({ signal, err }) => {
    if (err) {
      logger.error({ err }, 'fatal error: shutting down');
    } else {
      logger.info({ signal, drainMs: config.drainMs }, 'draining: readiness is 503, requests are still served');
      service.beginDrain();
      await new Promise((r) => setTimeout(r, config.drainMs));
      logger.info({ signal }, 'shutting down');
    }
    service.beginShutdown();
    await app.close();
    await service.close();
  });
  await app.listen({ port: config.port, host: config.host });
}
