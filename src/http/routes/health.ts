/** Liveness and readiness. */
import { appError } from '../../common/errors.js';
import { Health, Ready } from '../schemas.js';
import type { App, RouteDeps } from '../types.js';
import { errorResponses } from './common.js';

export function healthRoutes(app: App, { service }: RouteDeps): void {
  app.get(
    '/healthz',
    { schema: { tags: ['operations'], summary: 'Liveness: the process answers', response: { 200: Health } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: backbone loaded, DATA_DIR writable, not shutting down',
        response: { 200: Ready, ...errorResponses },
      },
    },
    async () => {
      const r = await service.readiness();
      if (!r.ready) {
        const failing = Object.entries(r.checks)
          .filter(([, c]) => !c.ok)
          .map(([name, c]) => `${name}: ${c.message}`);
        throw appError('UNAVAILABLE', [`Not ready: ${failing.join('; ')}`], { checks: r.checks });
      }
      return { status: 'ready', checks: r.checks };
    },
  );
}
