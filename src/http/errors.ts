/**
 * One error shape for every failure (guide §2.3): `{"error": {"code", "message", "details"?},
 * "requestId"}`. Catalogued AppErrors keep their code and status; Fastify's own errors (schema,
 * JSON, body and multipart limits, content types) are mapped onto the catalogue.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from './types.js';
import { AppError, appError, catalogued } from '../common/errors.js';
import type { ServiceConfig } from '../common/config.js';

export interface ErrorResponse {
  error: { code: string; message: string; details?: Record<string, unknown> };
  requestId: string;
}

interface ValidationIssue {
  instancePath?: string;
  message?: string;
}

const MALFORMED_MULTIPART = /multipart|boundary|terminated early|malformed part header/i;

function validationError(err: FastifyError): AppError {
  const issues = (err.validation ?? []) as ValidationIssue[];
  const where = err.validationContext ?? 'request';
  const errors = issues.slice(0, 20).map((i) => ({ path: `${where}${i.instancePath ?? ''}`, message: i.message ?? 'invalid' }));
  const summary = errors.map((e) => `${e.path} ${e.message}`).join('; ') || err.message;
  return appError('VALIDATION_FAILED', [summary], { errors });
}

/** Maps anything thrown to a catalogued error. */
export function toAppError(err: unknown, req: FastifyRequest, config: ServiceConfig): AppError {
  const known = catalogued(err);
  if (known) return known;
  const e = err as FastifyError;
  if (e.validation) return validationError(e);
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_PROTO_VIOLATION':
    case 'FST_MP_PREMATURE_CLOSE':
    case 'FST_INVALID_JSON_FIELD_ERROR':
      return appError('BAD_REQUEST', [e.message]);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return appError('PAYLOAD_TOO_LARGE', [
        `The body is over the limit of this route (image bodies: MAX_FILE_BYTES = ${config.maxFileBytes} bytes)`,
      ]);
    case 'FST_REQ_FILE_TOO_LARGE':
      return appError('PAYLOAD_TOO_LARGE', [`A file is over MAX_FILE_BYTES (${config.maxFileBytes} bytes)`]);
    case 'FST_FILES_LIMIT':
      return appError('PAYLOAD_TOO_LARGE', [
        `Too many files in one request (MAX_FILES: ${config.maxUploadFiles} per upload, ${config.maxInspectFiles} per inspection)`,
      ]);
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return appError('PAYLOAD_TOO_LARGE', ['Too many multipart parts in one request']);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return appError('UNSUPPORTED_CONTENT_TYPE', [
        String(req.headers['content-type'] ?? '').slice(0, 100),
        'send multipart/form-data (field "images"), JSON or image/* as the route describes',
      ]);
  }
  // Busboy reports malformed multipart bodies as plain Errors with these messages.
  if (req.isMultipart?.() && e.statusCode === undefined && MALFORMED_MULTIPART.test(e.message ?? '')) {
    return appError('BAD_REQUEST', [`malformed multipart body: ${e.message}`]);
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    if (e.statusCode === 413) return appError('PAYLOAD_TOO_LARGE', [e.message]);
    if (e.statusCode === 415) return appError('UNSUPPORTED_CONTENT_TYPE', [String(req.headers['content-type'] ?? ''), e.message]);
    return new AppError({ code: 'bad_request', status: e.statusCode, message: e.message });
  }
  return appError('INTERNAL', [`see the server log for request ${req.id}`]);
}

export function errorBody(err: AppError, requestId: string): ErrorResponse {
  return { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) }, requestId };
}

export function registerErrorHandling(app: App, config: ServiceConfig): void {
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const mapped = toAppError(err, req, config);
    if (mapped.code === 'internal') req.log.error({ err }, 'request failed');
    else req.log.info({ code: mapped.code, status: mapped.status }, mapped.message);
    if (mapped.code === 'unauthorized') reply.header('WWW-Authenticate', 'Bearer');
    const retry = mapped.details?.retryAfterSeconds;
    if (typeof retry === 'number') reply.header('Retry-After', String(retry));
    return reply.status(mapped.status).type('application/json; charset=utf-8').send(errorBody(mapped, req.id));
  });
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    const err = appError('ROUTE_NOT_FOUND', [`${req.method} ${req.url.split('?')[0].slice(0, 200)}`]);
    return reply.status(404).send(errorBody(err, req.id));
  });
}
