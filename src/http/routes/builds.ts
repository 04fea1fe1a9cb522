/** /v1/lines/{line}/builds and /banks: start, watch, cancel, noise report, bank listing and activation. */
import {
  BankList,
  BankParams,
  BankRemoval,
  Build,
  BuildList,
  BuildParams,
  Line,
  LineParams,
  NoiseReport,
  StartBuildBody,
} from '../schemas.js';
import type { App, RouteDeps } from '../types.js';
import { errorResponses } from './common.js';

export function buildRoutes(app: App, { service }: RouteDeps): void {
  const tags = ['builds'];
  app.post(
    '/v1/lines/:line/builds',
    {
      schema: {
        tags,
        summary: 'Start a build (answers 202 at once); optional config overrides for this build only',
        params: LineParams,
        body: StartBuildBody,
        response: { 202: Build, ...errorResponses },
      },
    },
    async (req, reply) => reply.status(202).send(await service.builds.start(req.params.line, req.body?.config)),
  );

  app.get(
    '/v1/lines/:line/builds',
    { schema: { tags, summary: 'Builds, newest first', params: LineParams, response: { 200: BuildList, ...errorResponses } } },
    async (req) => {
      await service.lines.get(req.params.line);
      return { builds: await service.builds.list(req.params.line) };
    },
  );

  app.get(
    '/v1/lines/:line/builds/:buildId',
    {
      schema: {
        tags,
        summary: 'Status, stage, progress, timings, error, bank version',
        params: BuildParams,
        response: { 200: Build, ...errorResponses },
      },
    },
    async (req) => {
      await service.lines.get(req.params.line);
      return service.builds.get(req.params.line, req.params.buildId);
    },
  );

  app.post(
    '/v1/lines/:line/builds/:buildId/cancel',
    { schema: { tags, summary: 'Cancel a queued or running build', params: BuildParams, response: { 202: Build, ...errorResponses } } },
    async (req, reply) => {
      await service.lines.get(req.params.line);
      return reply.status(202).send(await service.builds.cancel(req.params.line, req.params.buildId));
    },
  );

  app.get(
    '/v1/lines/:line/builds/:buildId/noise-report',
    {
      schema: {
        tags,
        summary: 'Which training images the build judged defective, most suspicious first',
        params: BuildParams,
        response: { 200: NoiseReport, ...errorResponses },
      },
    },
    async (req) => service.lines.noiseReport(req.params.line, req.params.buildId),
  );

  app.get(
    '/v1/lines/:line/banks',
    {
      schema: {
        tags: ['banks'],
        summary: 'Bank versions, newest first',
        params: LineParams,
        response: { 200: BankList, ...errorResponses },
      },
    },
    async (req) => ({ banks: await service.lines.banks(req.params.line) }),
  );

  app.delete(
    '/v1/lines/:line/banks/:version',
    {
      schema: {
        tags: ['banks'],
        summary: 'Delete a bank version (never the active one); with the line setting pruneImages, also the photos only it was built from',
        params: BankParams,
        response: { 200: BankRemoval, ...errorResponses },
      },
    },
    async (req) => service.lines.deleteBank(req.params.line, req.params.version),
  );

  app.post(
    '/v1/lines/:line/banks/:version/activate',
    {
      schema: {
        tags: ['banks'],
        summary: 'Make an existing bank the active one (rollback)',
        params: BankParams,
        response: { 200: Line, ...errorResponses },
      },
    },
    async (req) => service.lines.activate(req.params.line, req.params.version),
  );
}
