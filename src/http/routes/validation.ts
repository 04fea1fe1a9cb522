/**
 * /v1/lines/{line}/validation: labelled validation photos (upload with a label, list, bytes,
 * delete); /banks/{version}/evaluate and /evaluation: a bank scored on them; /banks/{version}/
 * removal/{imageId}: where a bank's denoising removed patches of a training photo.
 */
import { checkDeclaredLength, forEachImagePart } from '../multipart.js';
import {
  BankImageParams,
  BankParams,
  Binary,
  Evaluation,
  ImageParams,
  LineParams,
  NoContent,
  RemovalQuery,
  ValidationListQuery,
  ValidationPage,
  ValidationUploadQuery,
  ValidationUploadResult,
} from '../schemas.js';
import type { App, RouteDeps } from '../types.js';
import { errorResponses, multipartDoc } from './common.js';
import { parseLabel } from '../../service/validation.js';

const LABEL_FIELD = 'label';

export function validationRoutes(app: App, { service, config }: RouteDeps): void {
  const tags = ['validation'];
  app.post(
    '/v1/lines/:line/validation',
    {
      schema: {
        tags,
        summary: 'Upload labelled validation photos (multipart field "images"; label=good|defective as a multipart field or query)',
        description:
          'Stored like training images, never used for training. Every build evaluates its bank on them once the line has at least 3 of each label.',
        params: LineParams,
        querystring: ValidationUploadQuery,
        response: { 200: ValidationUploadResult, ...errorResponses },
      },
      config: multipartDoc(false),
    },
    async (req) => {
      checkDeclaredLength(req, config);
      // A label in the query is checked before the body is read; one in the body once it arrived.
      let raw = req.query.label;
      if (raw !== undefined) parseLabel(raw);
      const session = await service.validation.beginUpload(req.params.line);
      try {
        await forEachImagePart(
          req,
          config.maxUploadFiles,
          config,
          (f) => session.add(f),
          [LABEL_FIELD],
          (_name, value) => {
            raw = value;
          },
        );
        const label = parseLabel(raw);
        return { ...(await session.finish({ label })), label };
      } catch (err) {
        await session.discard();
        throw err;
      }
    },
  );

  app.get(
    '/v1/lines/:line/validation',
    {
      schema: {
        tags,
        summary: 'List validation photos, oldest first, with the count of each label',
        params: LineParams,
        querystring: ValidationListQuery,
        response: { 200: ValidationPage, ...errorResponses },
      },
    },
    async (req) => service.validation.list(req.params.line, req.query.offset ?? 0, req.query.limit ?? 100, req.query.label),
  );

  app.get(
    '/v1/lines/:line/validation/:imageId',
    {
      schema: {
        tags,
        summary: 'The stored bytes of a validation photo',
        params: ImageParams,
        response: { 200: Binary('the uploaded bytes, as sent'), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { contentType, filename, bytes } = await service.validation.read(req.params.line, req.params.imageId);
      return reply
        .type(contentType)
        .header('Content-Disposition', `inline; filename="${filename.replace(/["\\]/g, '_')}"`)
        .send(bytes);
    },
  );

  app.delete(
    '/v1/lines/:line/validation/:imageId',
    {
      schema: {
        tags,
        summary: 'Remove a validation photo (stored evaluations keep their record of it)',
        params: ImageParams,
        response: { 204: NoContent, ...errorResponses },
      },
    },
    async (req, reply) => {
      await service.validation.delete(req.params.line, req.params.imageId);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/lines/:line/banks/:version/evaluate',
    {
      schema: {
        tags: ['banks', ...tags],
        summary: 'Score the validation photos with this bank (active or not) and store the evaluation with it',
        description: 'Needs at least 3 good and 3 defective validation photos (422 too_few_validation_images).',
        params: BankParams,
        response: { 200: Evaluation, ...errorResponses },
      },
    },
    async (req) => service.validation.evaluate(req.params.line, req.params.version),
  );

  app.get(
    '/v1/lines/:line/banks/:version/evaluation',
    {
      schema: {
        tags: ['banks', ...tags],
        summary: "The stored evaluation of a bank, with the figures at the line's threshold of now",
        params: BankParams,
        response: { 200: Evaluation, ...errorResponses },
      },
    },
    async (req) => service.validation.evaluation(req.params.line, req.params.version),
  );

  app.get(
    '/v1/lines/:line/banks/:version/removal/:imageId',
    {
      schema: {
        tags: ['builds'],
        summary: "A training photo with the patches the bank's denoising removed drawn on it (PNG; ?size= for a thumbnail)",
        params: BankImageParams,
        querystring: RemovalQuery,
        response: { 200: Binary('image/png'), ...errorResponses },
      },
    },
    async (req, reply) =>
      reply
        .type('image/png')
        .send(await service.lines.removalOverlay(req.params.line, req.params.version, req.params.imageId, req.query.size)),
  );
}
