/** /v1/lines/{line}/images: multipart uploads, listing, bytes, deletion. */
import { checkDeclaredLength, forEachImagePart } from '../multipart.js';
import { Binary, ImageListQuery, ImagePage, ImageParams, LineParams, NoContent, UploadResult } from '../schemas.js';
import type { App, RouteDeps } from '../types.js';
import { errorResponses, multipartDoc } from './common.js';

export function imageRoutes(app: App, { service, config }: RouteDeps): void {
  const tags = ['images'];
  app.post(
    '/v1/lines/:line/images',
    {
      schema: {
        tags,
        summary: 'Upload training images (multipart field "images", one or many files)',
        description: `Files are checked one by one: a bad file is rejected with its reason, the others are stored. Limits: MAX_FILE_BYTES per file (${config.maxFileBytes}), MAX_FILES per request (${config.maxUploadFiles}), MAX_REQUEST_BYTES (${config.maxRequestBytes}).`,
        params: LineParams,
        response: { 200: UploadResult, ...errorResponses },
      },
      config: multipartDoc(false),
    },
    async (req) => {
      checkDeclaredLength(req, config);
      const session = await service.images.beginUpload(req.params.line);
      try {
        await forEachImagePart(req, config.maxUploadFiles, config, (f) => session.add(f));
        return await session.finish();
      } catch (err) {
        await session.discard();
        throw err;
      }
    },
  );

  app.get(
    '/v1/lines/:line/images',
    {
      schema: {
        tags,
        summary: 'List training images, oldest first',
        params: LineParams,
        querystring: ImageListQuery,
        response: { 200: ImagePage, ...errorResponses },
      },
    },
    async (req) => service.images.list(req.params.line, req.query.offset ?? 0, req.query.limit ?? 100),
  );

  app.get(
    '/v1/lines/:line/images/:imageId',
    {
      schema: {
        tags,
        summary: 'The stored bytes with their content type',
        params: ImageParams,
        response: { 200: Binary('the uploaded bytes, as sent'), ...errorResponses },
      },
    },
    async (req, reply) => {
      const { record, bytes } = await service.images.read(req.params.line, req.params.imageId);
      return reply
        .type(record.contentType)
        .header('Content-Disposition', `inline; filename="${record.filename.replace(/["\\]/g, '_')}"`)
        .send(bytes);
    },
  );

  app.delete(
    '/v1/lines/:line/images/:imageId',
    {
      schema: {
        tags,
        summary: 'Remove a training image (banks already built keep it in their record)',
        params: ImageParams,
        response: { 204: NoContent, ...errorResponses },
      },
    },
    async (req, reply) => {
      await service.images.delete(req.params.line, req.params.imageId);
      return reply.status(204).send(null);
    },
  );
}
