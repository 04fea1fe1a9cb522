/**
 * TypeBox schemas of every route (guide §2): request validation (unknown fields rejected), response
 * serialisation and the OpenAPI document all come from these.
 */
import { Type, type Static, type TSchema } from '@fastify/type-provider-typebox';
import { BUILD_ID_PATTERN, IMAGE_ID_PATTERN, LINE_ID_PATTERN } from '../store/paths.js';

const strict = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const LineId = Type.String({ pattern: LINE_ID_PATTERN.source, description: 'Line id: 1-64 characters a-z, 0-9, "_", "-", starting with a letter or digit' });
export const ImageId = Type.String({ pattern: IMAGE_ID_PATTERN.source, description: 'sha256 of the image bytes' });
export const BuildId = Type.String({ pattern: BUILD_ID_PATTERN.source });

export const LineParams = Type.Object({ line: LineId }, strict);
export const ImageParams = Type.Object({ line: LineId, imageId: ImageId }, strict);
export const BuildParams = Type.Object({ line: LineId, buildId: BuildId }, strict);
export const BankParams = Type.Object({ line: LineId, version: Type.Integer({ minimum: 1 }) }, strict);

const Method = Type.Union([Type.Literal('patchcore'), Type.Literal('softpatch'), Type.Literal('softpatch+')]);
const Discriminator = Type.Union([Type.Literal('lof'), Type.Literal('nearest'), Type.Literal('gaussian')]);
const Policy = Type.Union([Type.Literal('auto'), Type.Literal('fixed')]);

const configFields = {
  method: Method,
  discriminator: Discriminator,
  lofK: Type.Integer({ minimum: 1, maximum: 100 }),
  removalQuantile: Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'τ: share of training patches removed as noise' }),
  coresetRatio: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'ρ: memory rows per training patch' }),
  resize: Nullable(Type.Integer({ minimum: 32, maximum: 4096, description: 'shorter side after resize; null keeps the original size' })),
  crop: Nullable(Type.Integer({ minimum: 32, maximum: 4096, description: 'centre crop; null keeps the whole frame' })),
  discriminatorWindow: Type.Integer({ minimum: 0, maximum: 64, description: 'pose tolerance of lof/nearest in patches (0: per position, the spec)' }),
  suspectShare: Type.Number({ minimum: 0, maximum: 1, description: 'noise report, evidence "removedShare": floor of the removed share of a suspect' }),
  suspectEvidence: Type.Union([Type.Literal('removedShare'), Type.Literal('calibrationScore')], { description: 'noise report: what ranks and flags the training photos' }),
};
const ThresholdRule = Type.Union([Type.Literal('fence'), Type.Literal('tail')], { description: 'policy "auto": "fence" m + k·s (spec) or "tail" Gumbel quantile at 1 − falseAlarmRate' });

/** A partial configuration as sent by a client. */
export const LineConfigPatch = Type.Partial(
  Type.Object(
    {
      ...configFields,
      threshold: Type.Partial(
        Type.Object(
          {
            policy: Policy,
            value: Type.Number({ exclusiveMinimum: 0, description: 'the threshold of policy "fixed"' }),
            sensitivity: Type.Number({ minimum: 0, maximum: 100, description: 'k of m + k·s (policy "auto", rule "fence")' }),
            rule: ThresholdRule,
            falseAlarmRate: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 0.5, description: 'share of good photos rejected (policy "auto", rule "tail")' }),
          },
          strict,
        ),
        strict,
      ),
    },
    strict,
  ),
  strict,
);

export const LineConfig = Type.Object({
  ...configFields,
  threshold: Type.Object({ policy: Policy, value: Type.Optional(Type.Number()), sensitivity: Type.Number(), rule: ThresholdRule, falseAlarmRate: Type.Number() }),
});

export const CreateLineBody = Type.Object({ id: LineId, name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), config: Type.Optional(LineConfigPatch) }, strict);
export const PatchLineBody = Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), config: Type.Optional(LineConfigPatch) }, strict);
export const StartBuildBody = Nullable(Type.Object({ config: Type.Optional(LineConfigPatch) }, strict));

const BuildRef = Nullable(Type.Object({ id: Type.String(), status: Type.String(), createdAt: Type.String() }));

export const BankSummary = Type.Object({
  version: Type.Integer(),
  method: Method,
  rows: Type.Integer(),
  threshold: Type.Number(),
  createdAt: Type.String(),
  buildId: Type.String(),
  images: Type.Integer(),
  active: Type.Boolean(),
});

export const Line = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  config: LineConfig,
  images: Type.Integer(),
  builds: Type.Integer(),
  banks: Type.Integer(),
  activeBank: Nullable(BankSummary),
  threshold: Nullable(Type.Number()),
  lastBuild: BuildRef,
});

export const LineList = Type.Object({
  lines: Type.Array(
    Type.Object({ id: Type.String(), name: Type.String(), createdAt: Type.String(), images: Type.Integer(), activeBank: Nullable(Type.Integer()), lastBuild: BuildRef }),
  ),
});

export const ImageInfo = Type.Object({
  id: Type.String(),
  filename: Type.String(),
  contentType: Type.String(),
  width: Type.Integer(),
  height: Type.Integer(),
  bytes: Type.Integer(),
  uploadedAt: Type.String(),
});

export const ImageListQuery = Type.Object(
  { offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) },
  strict,
);

export const ImagePage = Type.Object({ total: Type.Integer(), offset: Type.Integer(), limit: Type.Integer(), images: Type.Array(ImageInfo) });

export const UploadResult = Type.Object({
  stored: Type.Integer(),
  duplicates: Type.Integer(),
  rejected: Type.Integer(),
  files: Type.Array(
    Type.Object({
      filename: Type.String(),
      status: Type.Union([Type.Literal('stored'), Type.Literal('duplicate'), Type.Literal('rejected')]),
      id: Type.Optional(Type.String()),
      width: Type.Optional(Type.Integer()),
      height: Type.Optional(Type.Integer()),
      reason: Type.Optional(Type.String()),
    }),
  ),
});

export const Build = Type.Object({
  id: Type.String(),
  line: Type.String(),
  status: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed'), Type.Literal('cancelled')]),
  stage: Type.Union([
    Type.Literal('queued'), Type.Literal('embedding'), Type.Literal('denoising'), Type.Literal('coreset'),
    Type.Literal('calibrating'), Type.Literal('writing'), Type.Literal('done'),
  ]),
  progress: Nullable(Type.Object({ done: Type.Integer(), total: Type.Integer() })),
  createdAt: Type.String(),
  startedAt: Nullable(Type.String()),
  finishedAt: Nullable(Type.String()),
  config: LineConfig,
  images: Type.Integer(),
  timingsMs: Type.Record(Type.String(), Type.Number()),
  bankVersion: Nullable(Type.Integer()),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Record(Type.String(), Type.Unknown())) })),
});

export const BuildList = Type.Object({ builds: Type.Array(Build) });
export const BankList = Type.Object({ banks: Type.Array(BankSummary) });

export const NoiseReport = Type.Object({
  line: Type.String(),
  buildId: Type.String(),
  bankVersion: Type.Integer(),
  method: Method,
  removalQuantile: Type.Number(),
  suspectShare: Type.Number(),
  evidence: Type.String(),
  rule: Type.String(),
  suspects: Type.Integer(),
  fence: Type.Number(),
  separation: Type.Object({ gap: Nullable(Type.Number()), borderline: Type.Integer() }),
  images: Type.Array(
    Type.Object({
      id: Type.String(),
      filename: Type.String(),
      removedShare: Type.Number(),
      meanScore: Type.Number(),
      maxScore: Type.Number(),
      topScore: Type.Number(),
      calibrationScore: Type.Number(),
      suspect: Type.Boolean(),
    }),
  ),
});

const thresholdQuery = Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'decision threshold for this request' }));
const opacityQuery = Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: 0.5, description: 'overlay opacity' }));

export const InspectQuery = Type.Object(
  {
    heatmap: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('png'), Type.Literal('overlay')], { default: 'none' })),
    threshold: thresholdQuery,
    regions: Type.Optional(Type.Boolean({ default: false })),
    opacity: opacityQuery,
  },
  strict,
);

export const InspectPngQuery = Type.Object(
  {
    kind: Type.Optional(Type.Union([Type.Literal('heatmap'), Type.Literal('overlay')], { default: 'overlay' })),
    threshold: thresholdQuery,
    opacity: opacityQuery,
  },
  strict,
);

const Region = Type.Object({ x: Type.Integer(), y: Type.Integer(), width: Type.Integer(), height: Type.Integer(), maxScore: Type.Number() });

export const InspectResponse = Type.Object({
  line: Type.String(),
  bank: Type.Object({ version: Type.Integer(), method: Type.String() }),
  results: Type.Array(
    Type.Object({
      filename: Type.String(),
      width: Type.Integer(),
      height: Type.Integer(),
      score: Type.Number(),
      normalizedScore: Type.Number(),
      threshold: Type.Number(),
      anomalous: Type.Boolean(),
      heatmap: Type.Optional(Type.String({ description: 'base64 PNG at the original image size' })),
      regions: Type.Optional(Type.Array(Region)),
      timingsMs: Type.Object({ decode: Type.Number(), backbone: Type.Number(), search: Type.Number(), render: Type.Number() }),
    }),
  ),
});

export const ErrorBody = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Record(Type.String(), Type.Unknown())) }),
  requestId: Type.String(),
});

/** Binary answers (stored image bytes, PNG heatmaps): documented, never serialised. */
export const Binary = (description: string) => Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description });
export const NoContent = Type.Null({ description: 'No content' });

export const Health = Type.Object({ status: Type.String() });
const Check = Type.Object({ ok: Type.Boolean(), message: Type.Optional(Type.String()) });
export const Ready = Type.Object({ status: Type.String(), checks: Type.Object({ backbone: Check, dataDir: Check, shutdown: Check }) });

/** The multipart request body, for the OpenAPI document only (multipart is parsed by the handler). */
export const MultipartImages = Type.Object({
  images: Type.Array(Type.String({ format: 'binary' }), { description: 'one or more image files (PNG, JPEG, WebP, TIFF, BMP)' }),
});

export type LineConfigPatchBody = Static<typeof LineConfigPatch>;
