/** /v1/lines: create, list, read, change, delete. */
import { CreateLineBody, Line, LineList, LineParams, NoContent, PatchLineBody } from '../schemas.js';
import type { App, RouteDeps } from '../types.js';
import { errorResponses } from './common.js';

export function lineRoutes(app: App, { service }: RouteDeps): void {
  const tags = ['lines'];
  app.post(
    '/v1/lines',
    { schema: { tags, summary: 'Create a line', body: CreateLineBody, response: { 201: Line, ...errorResponses } } },
    async (req, reply) => {
      return reply.status(201).send(await service.lines.create(req.body));
    },
  );

  app.get(
    '/v1/lines',
    {
      schema: { tags, summary: 'List lines with image count, active bank and last build', response: { 200: LineList, ...errorResponses } },
    },
    async () => ({
      lines: await service.lines.list(),
    }),
  );

  app.get(
    '/v1/lines/:line',
    {
      schema: {
        tags,
        summary: 'One line: config with defaults, counts, active bank',
        params: LineParams,
        response: { 200: Line, ...errorResponses },
      },
    },
    async (req) => service.lines.get(req.params.line),
  );

  app.patch(
    '/v1/lines/:line',
    {
      schema: {
        tags,
        summary: 'Change name or config (build settings: next build; threshold: at once)',
        params: LineParams,
        body: PatchLineBody,
        response: { 200: Line, ...errorResponses },
      },
    },
    async (req) => service.lines.patch(req.params.line, req.body),
  );

  app.delete(
    '/v1/lines/:line',
    {
      schema: {
        tags,
        summary: 'Delete the line and all its data (its build is cancelled first)',
        params: LineParams,
        response: { 204: NoContent, ...errorResponses },
      },
    },
    async (req, reply) => {
      await service.lines.delete(req.params.line);
      return reply.status(204).send(null);
    },
  );
}
