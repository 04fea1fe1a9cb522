/**
 * TypeBox schemas of every route (guide §2): request validation (unknown fields rejected), response
 * serialisation and the OpenAPI document all come from these. Response shapes are the service's own
 * schemas (src/service/views.ts, src/store/schemas.ts); this file adds parameters, queries, bodies.
 */
import { Type } from 'typebox';
import {
  BankSummarySchema,
  BuildViewSchema,
  EvaluationViewSchema,
  ImagePageSchema,
  ImageViewSchema,
  InspectionResponseSchema,
  LineSummarySchema,
  LineViewSchema,
  NoiseReportViewSchema,
  UploadResultSchema,
  ValidationPageSchema,
  ValidationUploadResultSchema,
} from '../service/views.js';
import { BUILD_ID_PATTERN, IMAGE_ID_PATTERN, LINE_ID_PATTERN } from '../store/paths.js';
import { LineConfigPatchSchema, LineConfigSchema, Nullable, strict, ValidationLabelSchema } from '../store/schemas.js';

export const LineId = Type.String({
  pattern: LINE_ID_PATTERN.source,
  description: 'Line id: 1-64 characters a-z, 0-9, "_", "-", starting with a letter or digit',
});
export const ImageId = Type.String({ pattern: IMAGE_ID_PATTERN.source, description: 'sha256 of the image bytes' });
export const BuildId = Type.String({ pattern: BUILD_ID_PATTERN.source });

export const LineParams = Type.Object({ line: LineId }, strict);
export const ImageParams = Type.Object({ line: LineId, imageId: ImageId }, strict);
export const BuildParams = Type.Object({ line: LineId, buildId: BuildId }, strict);
export const BankParams = Type.Object({ line: LineId, version: Type.Integer({ minimum: 1 }) }, strict);

export const LineConfigPatch = LineConfigPatchSchema;
export const LineConfig = LineConfigSchema;

export const CreateLineBody = Type.Object(
  { id: LineId, name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), config: Type.Optional(LineConfigPatch) },
  strict,
);
export const PatchLineBody = Type.Object(
  { name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), config: Type.Optional(LineConfigPatch) },
  strict,
);
export const StartBuildBody = Nullable(Type.Object({ config: Type.Optional(LineConfigPatch) }, strict));

export const BankSummary = BankSummarySchema;
export const Line = LineViewSchema;
export const LineList = Type.Object({ lines: Type.Array(LineSummarySchema) });
export const ImageInfo = ImageViewSchema;

export const ImageListQuery = Type.Object(
  {
    offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  strict,
);

export const ImagePage = ImagePageSchema;
export const UploadResult = UploadResultSchema;
export const Build = BuildViewSchema;

export const BuildList = Type.Object({ builds: Type.Array(Build) });
export const BankList = Type.Object({ banks: Type.Array(BankSummary) });

export const NoiseReport = NoiseReportViewSchema;

const thresholdQuery = Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'decision threshold for this request' }));
const bankQuery = Type.Optional(
  Type.Integer({ minimum: 1, description: 'score with this stored bank version instead of the active one (it stays inactive)' }),
);
const opacityQuery = Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: 0.5, description: 'overlay opacity' }));

export const InspectQuery = Type.Object(
  {
    heatmap: Type.Optional(Type.Union([Type.Literal('none'), Type.Literal('png'), Type.Literal('overlay')], { default: 'none' })),
    threshold: thresholdQuery,
    regions: Type.Optional(Type.Boolean({ default: false })),
    opacity: opacityQuery,
    bank: bankQuery,
  },
  strict,
);

export const InspectPngQuery = Type.Object(
  {
    kind: Type.Optional(Type.Union([Type.Literal('heatmap'), Type.Literal('overlay')], { default: 'overlay' })),
    threshold: thresholdQuery,
    opacity: opacityQuery,
    bank: bankQuery,
  },
  strict,
);

export const InspectResponse = InspectionResponseSchema;

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

export const BankRemoval = Type.Object({
  banks: Type.Array(Type.Integer(), { description: 'bank versions deleted' }),
  images: Type.Array(Type.String(), { description: 'training photos deleted with them (pruneImages)' }),
});
export const ValidationUploadQuery = Type.Object(
  { label: Type.Optional(Type.String({ description: 'good | defective (or a multipart field "label")' })) },
  strict,
);
export const ValidationListQuery = Type.Object({ ...ImageListQuery.properties, label: Type.Optional(ValidationLabelSchema) }, strict);
export const ValidationPage = ValidationPageSchema;
export const ValidationUploadResult = ValidationUploadResultSchema;
export const Evaluation = EvaluationViewSchema;

export const RemovalQuery = Type.Object(
  {
    size: Type.Optional(
      Type.Integer({ minimum: 16, maximum: 4096, description: 'longest side of the answer (thumbnail); default: the original size' }),
    ),
  },
  strict,
);
export const BankImageParams = Type.Object({ line: LineId, version: Type.Integer({ minimum: 1 }), imageId: ImageId }, strict);
