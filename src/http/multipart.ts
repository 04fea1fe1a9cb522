/** Reading image files out of multipart bodies (field "images") and raw image/* bodies. */
import type { FastifyRequest } from 'fastify';
import type { ServiceConfig } from '../common/config.js';
import { appError } from '../common/errors.js';
import type { IncomingFile } from '../service/uploads.js';
import type { InspectFile } from '../service/inspection.js';
import { cleanFilename } from '../service/uploads.js';

export const IMAGE_FIELD = 'images';

/** Refuses a request whose declared length is already over MAX_REQUEST_BYTES, before reading it. */
export function checkDeclaredLength(req: FastifyRequest, config: ServiceConfig): void {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > config.maxRequestBytes) {
    throw appError('PAYLOAD_TOO_LARGE', [`The request declares ${declared} bytes, over MAX_REQUEST_BYTES (${config.maxRequestBytes})`]);
  }
}

function requireMultipart(req: FastifyRequest): void {
  if (!req.isMultipart()) {
    throw appError('UNSUPPORTED_CONTENT_TYPE', [
      String(req.headers['content-type'] ?? '').slice(0, 100),
      'send multipart/form-data with the files in the field "images"',
    ]);
  }
}

/**
 * Streams each file of the field "images" to `onFile`; a text field named in `fields` goes to
 * `onField`, any other field is a 400.
 */
export async function forEachImagePart(
  req: FastifyRequest,
  maxFiles: number,
  config: ServiceConfig,
  onFile: (f: IncomingFile) => Promise<void>,
  fields: readonly string[] = [],
  onField: (name: string, value: string) => void = () => {},
): Promise<void> {
  requireMultipart(req);
  for await (const part of req.parts({ limits: { files: maxFiles, fileSize: config.maxFileBytes } })) {
    if (part.type === 'field' && fields.includes(part.fieldname)) {
      onField(part.fieldname, String(part.value));
      continue;
    }
    if (part.type !== 'file' || part.fieldname !== IMAGE_FIELD) {
      if (part.type === 'file') part.file.resume();
      throw appError('UNEXPECTED_FIELD', [part.fieldname.slice(0, 100)]);
    }
    await onFile({ filename: part.filename, stream: part.file });
  }
}

/** The images of an inspection: multipart field "images", or one raw image/* body. */
export async function readInspectFiles(req: FastifyRequest, maxFiles: number, config: ServiceConfig): Promise<InspectFile[]> {
  if (Buffer.isBuffer(req.body)) {
    const name = req.headers['x-filename'];
    return [{ filename: cleanFilename(typeof name === 'string' ? name : 'image'), bytes: req.body }];
  }
  const files: InspectFile[] = [];
  let total = 0;
  await forEachImagePart(req, maxFiles, config, async (f) => {
    const chunks: Buffer[] = [];
    for await (const chunk of f.stream) {
      total += (chunk as Buffer).length;
      if (total > config.maxRequestBytes)
        throw appError('PAYLOAD_TOO_LARGE', [`The request is over MAX_REQUEST_BYTES (${config.maxRequestBytes} bytes)`]);
      chunks.push(chunk as Buffer);
    }
    if (f.stream.truncated)
      throw appError('PAYLOAD_TOO_LARGE', [`File "${cleanFilename(f.filename)}" is over MAX_FILE_BYTES (${config.maxFileBytes} bytes)`]);
    files.push({ filename: cleanFilename(f.filename), bytes: Buffer.concat(chunks) });
  });
  if (files.length === 0) throw appError('NO_IMAGES_FIELD');
  return files;
}
