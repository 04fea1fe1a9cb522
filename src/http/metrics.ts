/** http_request_duration_seconds (route = route pattern, bounded cardinality) and GET /metrics. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from './types.js';
import { Histogram, type Registry } from 'prom-client';

export function registerHttpMetrics(app: App, registry: Registry): void {
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  app.addHook('onResponse', async (req: FastifyRequest, reply: FastifyReply) => {
    // Unmatched URLs share one label so that scanners cannot grow the series.
    const route = req.routeOptions.url ?? 'unmatched';
    duration.observe({ method: req.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics (text format)' } }, async (_req, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}
