/**
 * The Fastify application (guide §2): plugins, hooks, error handling and every route, built around
 * a `Service`. No `listen` here: `serve()` and the tests decide where it listens.
 */
import Fastify, { LogController, type FastifyBaseLogger } from 'fastify';
import multipart from '@fastify/multipart';
import underPressure from '@fastify/under-pressure';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import type { ServiceConfig } from '../common/config.js';
import { appError } from '../common/errors.js';
import type { Service } from '../service/index.js';
import { registerErrorHandling } from './errors.js';
import { registerHttpMetrics } from './metrics.js';
import { buildRoutes } from './routes/builds.js';
import { healthRoutes } from './routes/health.js';
import { imageRoutes } from './routes/images.js';
import { inspectRoutes } from './routes/inspect.js';
import { lineRoutes } from './routes/lines.js';
import { validationRoutes } from './routes/validation.js';
import { registerSecurity, requestIdFor } from './security.js';
import { requestContext } from './logger.js';
import { uiRoutes } from './ui.js';
import type { App } from './types.js';

export interface AppDeps {
  service: Service;
  config: ServiceConfig;
  logger: Logger;
}

/** JSON bodies are small (line settings); images travel as multipart or image/* bodies. */
const JSON_BODY_LIMIT = 1024 * 1024;
/** Seconds a shed request is told to wait: the pressure is sampled every second. */
const PRESSURE_RETRY_AFTER_S = 2;

export async function buildApp({ service, config, logger }: AppDeps): Promise<App> {
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    genReqId: requestIdFor,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    bodyLimit: JSON_BODY_LIMIT,
    // Closing is answered by our own 503 (the guide's error shape), see the hook below.
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Bodies are checked strictly (no coercion: wrongly typed fields are a 400); query and path
  // parameters are converted from strings first.
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  registerErrorHandling(app, config);
  // Service log lines written for this request (any layer) carry its id.
  app.addHook('onRequest', (req, _reply, done) => requestContext.run(req.id, done));
  registerSecurity(app, config.apiKeys);
  // Load shedding: liveness and metrics stay answerable, /readyz and the API say 503 + Retry-After.
  await app.register(underPressure, {
    maxEventLoopDelay: config.pressureMaxEventLoopDelayMs,
    maxHeapUsedBytes: config.pressureMaxHeapBytes,
    pressureHandler: async (req, _reply, type, value) => {
      if (req.url === '/healthz' || req.url === '/metrics') return;
      throw appError('OVERLOADED', [type, Math.round(Number(value))], { retryAfterSeconds: PRESSURE_RETRY_AFTER_S });
    },
  });
  app.addHook('onRequest', async () => {
    if (service.shuttingDown) throw appError('UNAVAILABLE', ['The service is shutting down']);
  });
  // Answers finished during shutdown close their connection, so the listener can close.
  app.addHook('onSend', async (_req, reply) => {
    if (service.shuttingDown) reply.header('Connection', 'close');
  });
  registerHttpMetrics(app, service.registry);

  // No route takes plain text: without this parser such bodies are a 415, not a schema error.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(/^image\/[a-z0-9.+-]+$/i, { parseAs: 'buffer', bodyLimit: config.maxFileBytes }, (_req, body, done) =>
    done(null, body),
  );
  await app.register(multipart, {
    limits: { fileSize: config.maxFileBytes, files: config.maxUploadFiles, fields: 10, parts: config.maxUploadFiles + 10 },
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'SoftPatch inspection service',
        version: 'v1',
        description:
          'Visual anomaly inspection: upload unlabelled photos per product line, build a SoftPatch / SoftPatch+ memory bank, score new photos.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: config.apiKeys.length ? [{ bearer: [] }] : [],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const deps = { service, config };
  healthRoutes(app, deps);
  lineRoutes(app, deps);
  imageRoutes(app, deps);
  buildRoutes(app, deps);
  inspectRoutes(app, deps);
  validationRoutes(app, deps);
  uiRoutes(app);
  return app;
}
