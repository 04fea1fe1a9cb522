/**
 * The one error catalogue. Every error the product reports has a stable snake_case code, an HTTP
 * status and a message template, defined here once. Lower layers throw `AppError`s; the HTTP layer
 * turns them into `{"error": {"code", "message", "details"?}, "requestId"}`; the CLI prints them.
 */

export interface ErrorSpec {
  readonly code: string;
  readonly status: number;
  readonly message: string;
}

function spec(code: string, status: number, message: string): ErrorSpec {
  return Object.freeze({ code, status, message });
}

export const Errors = Object.freeze({
  BAD_REQUEST: spec('bad_request', 400, 'The request is malformed: %s'),
  VALIDATION_FAILED: spec('validation_failed', 400, 'The request does not match its schema: %s'),
  INVALID_LINE_ID: spec(
    'validation_failed',
    400,
    'Invalid line id "%s": use 1-64 characters a-z, 0-9, "_" or "-", starting with a letter or digit',
  ),
  NO_IMAGES_FIELD: spec('bad_request', 400, 'No file in the multipart field "images"'),
  UNAUTHORIZED: spec('unauthorized', 401, 'A valid API key is required: send "Authorization: Bearer <key>"'),
  FORBIDDEN: spec('forbidden', 403, 'This key has the scope "%s", which does not allow %s: use an admin key'),
  LINE_NOT_FOUND: spec('not_found', 404, 'Line "%s" does not exist'),
  IMAGE_NOT_FOUND: spec('not_found', 404, 'Image "%s" does not exist in this line'),
  BUILD_NOT_FOUND: spec('not_found', 404, 'Build "%s" does not exist in this line'),
  BANK_NOT_FOUND: spec('not_found', 404, 'Bank version %s does not exist in this line'),
  ROUTE_NOT_FOUND: spec('not_found', 404, 'No route %s'),
  LINE_EXISTS: spec('conflict', 409, 'Line "%s" already exists'),
  NO_ACTIVE_BANK: spec('no_active_bank', 409, 'Line "%s" has no active bank yet: upload images and run a build first'),
  BUILD_IN_PROGRESS: spec('build_in_progress', 409, 'A build of line "%s" is already queued or running'),
  BANK_ACTIVE: spec('bank_active', 409, 'Bank version %s is the active bank of line "%s": activate another version first'),
  BUILD_FINISHED: spec('conflict', 409, 'Build "%s" has already finished'),
  PAYLOAD_TOO_LARGE: spec('payload_too_large', 413, '%s'),
  UNSUPPORTED_MEDIA_TYPE: spec('unsupported_media_type', 415, 'Unsupported image format %s: send PNG, JPEG, WebP, TIFF or BMP'),
  UNPROCESSABLE: spec('unprocessable', 422, '%s'),
  TOO_MANY_PIXELS: spec('unprocessable', 422, 'Image has %s pixels, more than the limit of %s (MAX_PIXELS)'),
  UNDECODABLE_IMAGE: spec('unprocessable', 422, 'The image could not be decoded: %s'),
  TOO_FEW_IMAGES: spec('too_few_images', 422, 'A build needs at least %s training images; the line has %s'),
  OVER_CAPACITY: spec('over_capacity', 422, '%s'),
  BUSY: spec('busy', 429, 'The inspection queue is full; retry in %s s'),
  INTERNAL: spec('internal', 500, 'Internal error: %s'),
  UNAVAILABLE: spec('unavailable', 503, '%s'),
  NO_SPACE: spec('insufficient_storage', 507, 'DATA_DIR has no space left (%s): free space or delete banks and images, then retry'),
  MEMORY_BUDGET: spec('memory_budget', 503, '%s: retry when fewer banks are loaded or builds run, or raise the memory limit'),
  OVERLOADED: spec('overloaded', 503, 'The service is overloaded (%s = %s); retry later'),
  BACKBONE_INVALID: spec('backbone_invalid', 500, 'Backbone at %s is not usable: %s'),
  MODEL_CONVERSION: spec('model_conversion', 500, 'Cannot convert the Keras model: %s'),
  CONFIG_INVALID: spec('config_invalid', 500, 'Invalid configuration: %s'),
  USAGE: spec('usage', 400, '%s'),
  BANK_CORRUPT: spec('bank_corrupt', 500, 'Bank %s failed its integrity check: %s; activate another version or run a new build'),
  ENGINE_INPUT: spec('engine_input', 400, 'Invalid engine input: %s'),
  CANCELLED: spec('cancelled', 409, 'Cancelled: %s'),
  UNEXPECTED_FIELD: spec('validation_failed', 400, 'Unexpected multipart field "%s": send the files in the field "images"'),
  UNSUPPORTED_CONTENT_TYPE: spec('unsupported_media_type', 415, 'Content-Type "%s" is not accepted here: %s'),
  NO_READABLE_IMAGE: spec('bad_request', 400, 'None of the %s files is a readable image: %s'),
  NOISE_REPORT_UNAVAILABLE: spec('conflict', 409, 'Build "%s" has no noise report: it is %s'),
  BANK_BACKBONE_MISMATCH: spec('conflict', 409, 'Bank %s was built with backbone %s, this server runs %s: run a new build'),
  EVAL_INPUT: spec('eval_input', 400, 'Invalid evaluation input: %s'),
  DATASET_INVALID: spec('dataset_invalid', 400, 'Dataset at %s is not usable: %s'),
  VALIDATION_IMAGE_NOT_FOUND: spec('not_found', 404, 'Validation photo "%s" does not exist in this line'),
  INVALID_LABEL: spec('validation_failed', 400, 'Invalid label "%s": send label=good or label=defective (multipart field or query)'),
  TOO_FEW_VALIDATION_IMAGES: spec(
    'too_few_validation_images',
    422,
    'The line has %s good and %s defective validation photos; %s needs at least %s of each',
  ),
  EVALUATION_NOT_FOUND: spec('not_found', 404, 'Bank version %s has not been evaluated on the validation photos: POST …/banks/%s/evaluate'),
  IMAGE_NOT_IN_BANK: spec('not_found', 404, 'Image "%s" is not a training image of bank version %s'),
  NO_REMOVAL_MASK: spec('conflict', 409, 'Bank version %s was built before removal masks were stored: rebuild to see them'),
  NOISE_TOO_LARGE: spec('eval_input', 400, 'Cannot inject %s anomalous images (noise %s, mode %s): only %s are available'),
} as const);

export type ErrorName = keyof typeof Errors;

function format(template: string, args: readonly unknown[]): string {
  let i = 0;
  return template.replace(/%s/g, () => (i < args.length ? String(args[i++]) : ''));
}

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details?: Record<string, unknown>;

  constructor(specOrName: ErrorSpec, args: readonly unknown[] = [], details?: Record<string, unknown>) {
    super(format(specOrName.message, args));
    this.name = 'AppError';
    this.code = specOrName.code;
    this.status = specOrName.status;
    if (details !== undefined) this.details = details;
  }
}

/** `throw appError('LINE_NOT_FOUND', [id])`: the usual way to raise a catalogued error. */
export function appError(name: ErrorName, args: readonly unknown[] = [], details?: Record<string, unknown>): AppError {
  return new AppError(Errors[name], args, details);
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** The file system is full (or the quota spent): a 507 wherever it happens. */
export function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** An AppError as is; a full file system as NO_SPACE; anything else undefined. */
export function catalogued(err: unknown): AppError | undefined {
  if (isAppError(err)) return err;
  if (isNoSpace(err)) return appError('NO_SPACE', [(err as NodeJS.ErrnoException).code]);
  return undefined;
}
