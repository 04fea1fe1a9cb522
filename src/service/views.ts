/**
 * The API's response shapes (guide §2.2), as TypeBox schemas, and their construction from the stored
 * records. The service's types are the schemas' `Static` types and the HTTP layer serialises and
 * documents with the same schemas: one definition of every shape that crosses the HTTP boundary.
 */
import { Type, type Static } from 'typebox';
import { TURNS_REASONS } from '../backbone/orientation.js';
import { LEARNED_ROTATIONS } from '../backbone/rotate.js';
import {
  BuildRecordSchema,
  BuildStatusSchema,
  EvaluationFiguresSchema,
  EvaluationRecordSchema,
  LineConfigSchema,
  MethodSchema,
  NoiseReportSchema,
  Nullable,
  ValidationLabelSchema,
} from '../store/schemas.js';
import type { BankMeta, BuildRecord, ImageRecord, LineRecord } from '../store/types.js';

export const TurnsSchema = Type.Object(
  {
    learned: Type.Enum(LEARNED_ROTATIONS),
    reason: Type.Enum(TURNS_REASONS),
    spread: Nullable(
      Type.Object({
        photos: Type.Integer({ description: 'training photos read' }),
        withAxis: Type.Integer({ description: 'of them, those whose part is at least twice as long as it is wide' }),
        resultant: Nullable(Type.Number({ description: 'how parallel their axes are: 1 all parallel, 0 spread evenly' })),
      }),
    ),
  },
  { description: 'the views learnt of each training photo (trainRotations; for "auto" as its photos decided) and why' },
);

export const BankSummarySchema = Type.Object({
  version: Type.Integer(),
  method: MethodSchema,
  turns: Type.Optional(TurnsSchema),
  rows: Type.Integer(),
  threshold: Type.Number({ description: "the bank's `auto` threshold (m + k·s at build time)" }),
  createdAt: Type.String(),
  buildId: Type.String(),
  images: Type.Integer(),
  active: Type.Boolean(),
});
export type BankSummary = Static<typeof BankSummarySchema>;

export const BuildRefSchema = Nullable(Type.Object({ id: Type.String(), status: BuildStatusSchema, createdAt: Type.String() }));
export type BuildRef = NonNullable<Static<typeof BuildRefSchema>>;

export const LineSummarySchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Type.String(),
  images: Type.Integer(),
  activeBank: Nullable(Type.Integer()),
  lastBuild: BuildRefSchema,
});
export type LineSummary = Static<typeof LineSummarySchema>;

export const LineViewSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  config: LineConfigSchema,
  images: Type.Integer(),
  builds: Type.Integer(),
  banks: Type.Integer(),
  activeBank: Nullable(BankSummarySchema),
  threshold: Nullable(Type.Number({ description: 'the threshold inspections use now (line policy applied to the active bank)' })),
  lastBuild: BuildRefSchema,
});
export type LineView = Static<typeof LineViewSchema>;

export const ImageViewSchema = Type.Object({
  id: Type.String(),
  filename: Type.String(),
  contentType: Type.String(),
  width: Type.Integer(),
  height: Type.Integer(),
  bytes: Type.Integer(),
  uploadedAt: Type.String(),
});
export type ImageView = Static<typeof ImageViewSchema>;

export const ImagePageSchema = Type.Object({
  total: Type.Integer(),
  offset: Type.Integer(),
  limit: Type.Integer(),
  images: Type.Array(ImageViewSchema),
});
export type ImagePage = Static<typeof ImagePageSchema>;

export const UploadFileResultSchema = Type.Object({
  filename: Type.String(),
  status: Type.Enum(['stored', 'duplicate', 'rejected'] as const),
  id: Type.Optional(Type.String()),
  width: Type.Optional(Type.Integer()),
  height: Type.Optional(Type.Integer()),
  reason: Type.Optional(Type.String()),
});
export type UploadFileResult = Static<typeof UploadFileResultSchema>;

export const UploadResultSchema = Type.Object({
  stored: Type.Integer(),
  duplicates: Type.Integer(),
  rejected: Type.Integer(),
  files: Type.Array(UploadFileResultSchema),
});
export type UploadResult = Static<typeof UploadResultSchema>;

export const ValidationImageViewSchema = Type.Object({ ...ImageViewSchema.properties, label: ValidationLabelSchema });
export type ValidationImageView = Static<typeof ValidationImageViewSchema>;

export const ValidationPageSchema = Type.Object({
  total: Type.Integer(),
  offset: Type.Integer(),
  limit: Type.Integer(),
  counts: Type.Object({ good: Type.Integer(), defective: Type.Integer() }),
  images: Type.Array(ValidationImageViewSchema),
});
export type ValidationPage = Static<typeof ValidationPageSchema>;

export const ValidationUploadResultSchema = Type.Object({ ...UploadResultSchema.properties, label: ValidationLabelSchema });

/** An evaluation as the API shows it: every score, and the figures at the line's threshold of now. */
export const EvaluationViewSchema = Type.Object({
  line: EvaluationRecordSchema.properties.line,
  bankVersion: EvaluationRecordSchema.properties.bankVersion,
  evaluatedAt: EvaluationRecordSchema.properties.evaluatedAt,
  scores: EvaluationRecordSchema.properties.scores,
  ...EvaluationFiguresSchema.properties,
});
export type EvaluationView = Static<typeof EvaluationViewSchema>;

export const BuildViewSchema = BuildRecordSchema;
export type BuildView = BuildRecord;

export const NoiseReportViewSchema = Type.Object({ ...NoiseReportSchema.properties, bankVersion: Type.Integer() });
export type NoiseReportView = Static<typeof NoiseReportViewSchema>;

export const RegionSchema = Type.Object({
  x: Type.Integer(),
  y: Type.Integer(),
  width: Type.Integer(),
  height: Type.Integer(),
  maxScore: Type.Number(),
});

export const INSPECT_STAGES = ['decode', 'backbone', 'search', 'render'] as const;
export type InspectStage = (typeof INSPECT_STAGES)[number];

export const InspectionResultSchema = Type.Object({
  filename: Type.String(),
  width: Type.Integer(),
  height: Type.Integer(),
  score: Type.Number(),
  normalizedScore: Type.Number(),
  threshold: Type.Number(),
  anomalous: Type.Boolean(),
  heatmap: Type.Optional(Type.String({ description: 'base64 PNG at the original image size' })),
  regions: Type.Optional(Type.Array(RegionSchema)),
  timingsMs: Type.Object(
    Object.fromEntries(INSPECT_STAGES.map((s) => [s, Type.Number()])) as Record<InspectStage, ReturnType<typeof Type.Number>>,
  ),
});

export const InspectionResponseSchema = Type.Object({
  line: Type.String(),
  bank: Type.Object({
    version: Type.Integer(),
    method: MethodSchema,
    active: Type.Boolean({ description: "whether this bank is the line's active one (see ?bank=)" }),
  }),
  results: Type.Array(InspectionResultSchema),
});
/** The JSON answer; the service holds heatmaps as PNG bytes until the HTTP layer base64-encodes them. */
export type InspectionResponse = Omit<Static<typeof InspectionResponseSchema>, 'results'> & { results: InspectionResultView[] };
export type InspectionResultView = Omit<Static<typeof InspectionResultSchema>, 'heatmap'> & { heatmap?: Buffer };

export function bankSummary(version: number, meta: BankMeta, line: LineRecord): BankSummary {
  return {
    version,
    method: meta.method,
    ...(meta.turns ? { turns: meta.turns } : {}),
    rows: meta.rows.cls + (meta.rows.seg ?? 0),
    threshold: meta.threshold,
    createdAt: meta.createdAt,
    buildId: meta.buildId,
    images: meta.trainingImages.length,
    active: line.activeBank === version,
  };
}

export function buildRef(b: BuildRecord | undefined): BuildRef | null {
  return b ? { id: b.id, status: b.status, createdAt: b.createdAt } : null;
}

export function imageView(r: ImageRecord): ImageView {
  return {
    id: r.id,
    filename: r.filename,
    contentType: r.contentType,
    width: r.width,
    height: r.height,
    bytes: r.bytes,
    uploadedAt: r.uploadedAt,
  };
}
