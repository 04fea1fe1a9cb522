/**
 * TypeBox schemas of the records that are both stored under DATA_DIR and returned by the API (a
 * line's configuration, a build, a noise report). Their TypeScript types are the schemas' `Static`
 * types (src/store/types.ts), and the HTTP layer validates and documents with the same schemas, so
 * the stored shape, the service's type and the OpenAPI document cannot drift apart.
 */
import { Type, type TSchema } from 'typebox';
import { ALIGNMENTS } from '../backbone/align.js';
import { TRAIN_ROTATIONS } from '../backbone/rotate.js';
import { DISCRIMINATORS, METHODS, SUSPECT_EVIDENCE, SUSPECT_FENCES, SUSPECT_REBUILDS, THRESHOLD_RULES } from '../engine/index.js';

export const strict = { additionalProperties: false } as const;
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const BUILD_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export const BUILD_STAGES = ['queued', 'embedding', 'denoising', 'coreset', 'calibrating', 'writing', 'done'] as const;
export const THRESHOLD_POLICIES = ['auto', 'fixed', 'validation'] as const;
export const VALIDATION_TARGETS = ['f1', 'recall'] as const;
export const VALIDATION_LABELS = ['good', 'defective'] as const;

export const MethodSchema = Type.Enum(METHODS);
export const DiscriminatorSchema = Type.Enum(DISCRIMINATORS);
export const ThresholdPolicySchema = Type.Enum(THRESHOLD_POLICIES);
export const BuildStatusSchema = Type.Enum(BUILD_STATUSES);
export const BuildStageSchema = Type.Enum(BUILD_STAGES);

/** The build settings of a line, each with its range (the threshold is separate: it applies at once). */
export const buildSettingFields = {
  method: MethodSchema,
  discriminator: DiscriminatorSchema,
  lofK: Type.Integer({ minimum: 1, maximum: 100 }),
  removalQuantile: Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'τ: share of training patches removed as noise' }),
  coresetRatio: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'ρ: memory rows per training patch' }),
  resize: Nullable(Type.Integer({ minimum: 32, maximum: 4096, description: 'shorter side after resize; null keeps the original size' })),
  crop: Nullable(Type.Integer({ minimum: 32, maximum: 4096, description: 'centre crop; null keeps the whole frame' })),
  discriminatorWindow: Type.Integer({
    minimum: 0,
    maximum: 64,
    description: 'pose tolerance of lof/nearest in patches (0: per position, the spec)',
  }),
  trainRotations: Type.Enum(TRAIN_ROTATIONS, {
    description:
      'parts that lie at any angle: every training photo also learnt turned by 180° ("180") or by each quarter turn ("90", square frames); "none" where the orientation itself can be a defect; "auto" (default) learns the quarter turns only where the training photos show an elongated part at every angle',
  }),
  align: Type.Enum(ALIGNMENTS, {
    description:
      'loose parts at any angle and place: every photo turned onto the part\'s principal axis (wider end left) and centred before it is learnt or inspected ("axis"); "none" where the orientation itself can be a defect',
  }),
  suspectShare: Type.Number({
    minimum: 0,
    maximum: 1,
    description: 'noise report, evidence "removedShare": floor of the removed share of a suspect',
  }),
  suspectEvidence: Type.Enum(SUSPECT_EVIDENCE, { description: 'noise report: what ranks and flags the training photos' }),
  suspectFence: Type.Enum(SUSPECT_FENCES, {
    description:
      'noise report, evidence "calibrationScore": "mad" median + 3.5·1.4826·MAD, or "gumbel" the 1 − 1/B quantile of a robust Gumbel',
  }),
  excludeSuspects: Type.Boolean({
    description: "drop every memory row of the noise report's suspects and calibrate the threshold on the reduced bank",
  }),
  suspectRebuild: Type.Enum(SUSPECT_REBUILDS, {
    description:
      'excludeSuspects: "coreset" chooses the bank again by a second greedy coreset; "repair" keeps the first coreset\'s picks without the suspects\' rows and tops them up by the same greedy loop',
  }),
};

export const thresholdFields = {
  /** `auto`: m + k·s from the bank's calibration (guide §3); `fixed`: `value`; `validation`: chosen on the labelled validation photos. */
  policy: ThresholdPolicySchema,
  value: Type.Number({ exclusiveMinimum: 0, description: 'the threshold of policy "fixed"' }),
  sensitivity: Type.Number({ minimum: 0, maximum: 100, description: 'k of m + k·s (policy "auto", rule "fence")' }),
  rule: Type.Enum(THRESHOLD_RULES, {
    description: 'policy "auto": "fence" m + k·s (spec) or "tail" the fitted Gumbel quantile at 1 − falseAlarmRate',
  }),
  falseAlarmRate: Type.Number({
    exclusiveMinimum: 0,
    exclusiveMaximum: 0.5,
    description: 'policy "auto", rule "tail": share of good photos rejected',
  }),
  target: Type.Enum(VALIDATION_TARGETS, {
    description: 'policy "validation": the best-F1 threshold, or the highest one that still reaches "recall"',
  }),
  recall: Type.Number({
    exclusiveMinimum: 0,
    maximum: 1,
    description: 'policy "validation", target "recall": share of the defective validation photos that must be flagged',
  }),
};

export const ThresholdConfigSchema = Type.Object({
  policy: thresholdFields.policy,
  value: Type.Optional(thresholdFields.value),
  sensitivity: thresholdFields.sensitivity,
  rule: thresholdFields.rule,
  falseAlarmRate: thresholdFields.falseAlarmRate,
  target: Type.Optional(thresholdFields.target),
  recall: Type.Optional(thresholdFields.recall),
});

/** What a line keeps (issue 16): which photos a build uses, how many banks and photos stay. */
export const retentionFields = {
  trainImages: Nullable(Type.Integer({ minimum: 1, maximum: 1000000, description: 'a build trains on the newest N photos; null: all' })),
  keepBanks: Nullable(
    Type.Integer({
      minimum: 1,
      maximum: 10000,
      description: 'retention: bank versions kept after each build (the newest N, always the active one); null keeps all',
    }),
  ),
  pruneImages: Type.Boolean({
    description: 'retention: removing a bank also deletes the training photos only removed banks were built from',
  }),
};

/**
 * Per-line settings. Build settings apply to the next build; `threshold` and retention at once.
 * Records written before retention existed lack its fields: readers fill them in (`withDefaults`).
 */
export const LineConfigSchema = Type.Object({ ...buildSettingFields, ...retentionFields, threshold: ThresholdConfigSchema });

/** A partial configuration as sent by a client. */
export const LineConfigPatchSchema = Type.Partial(
  Type.Object(
    {
      ...buildSettingFields,
      ...retentionFields,
      threshold: Type.Partial(Type.Object(thresholdFields, strict), strict),
    },
    strict,
  ),
  strict,
);

export const BuildErrorSchema = Type.Object({
  code: Type.String(),
  message: Type.String(),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});

export const BuildRecordSchema = Type.Object({
  id: Type.String(),
  line: Type.String(),
  status: BuildStatusSchema,
  stage: BuildStageSchema,
  progress: Nullable(Type.Object({ done: Type.Integer(), total: Type.Integer() })),
  createdAt: Type.String(),
  startedAt: Nullable(Type.String()),
  finishedAt: Nullable(Type.String()),
  config: LineConfigSchema,
  /** Training images the build was started with. */
  images: Type.Integer(),
  timingsMs: Type.Record(Type.String(), Type.Number()),
  bankVersion: Nullable(Type.Integer()),
  error: Nullable(BuildErrorSchema),
});

export const NoiseReportEntrySchema = Type.Object({
  id: Type.String(),
  filename: Type.String(),
  removedShare: Type.Number(),
  meanScore: Type.Number(),
  maxScore: Type.Number(),
  /** Mean of the image's highest patch outlier scores (`TOP_SCORE_SHARE` of its patches). */
  topScore: Type.Number(),
  /** Leave-one-image-out image score against the new bank. */
  calibrationScore: Type.Number(),
  suspect: Type.Boolean(),
  /** Left out of the threshold and, under `excludeSuspects`, of the bank (the suspects and the spec fence's outliers). */
  leftOut: Type.Boolean(),
});

export const NoiseReportSchema = Type.Object({
  line: Type.String(),
  buildId: Type.String(),
  method: MethodSchema,
  removalQuantile: Type.Number(),
  suspectShare: Type.Number(),
  evidence: Type.Enum(SUSPECT_EVIDENCE),
  rule: Type.String(),
  suspects: Type.Integer(),
  /** Evidence value above which a photo is a suspect. */
  fence: Type.Number(),
  /** How separable the suspects are (`SuspectReport.gap`, `.borderline`). */
  separation: Type.Object({ gap: Nullable(Type.Number()), borderline: Type.Integer() }),
  images: Type.Array(NoiseReportEntrySchema),
});

export const ValidationLabelSchema = Type.Enum(VALIDATION_LABELS);

export const EvaluationScoreSchema = Type.Object({
  id: Type.String(),
  filename: Type.String(),
  label: ValidationLabelSchema,
  score: Type.Number(),
});

const operatingPoint = {
  threshold: Type.Number(),
  f1: Type.Number(),
  accuracy: Type.Number(),
  precision: Type.Number(),
  recall: Type.Number(),
  confusion: Type.Object(
    { tp: Type.Integer(), fp: Type.Integer(), tn: Type.Integer(), fn: Type.Integer() },
    { description: 'positive = defective; anomalous = score > threshold' },
  ),
};

/** A bank's figures on the validation photos at the line's threshold and at the best-F1 one. */
export const EvaluationFiguresSchema = Type.Object({
  images: Type.Object({ good: Type.Integer(), defective: Type.Integer() }),
  auroc: Type.Number({ description: 'image AUROC of the bank on the validation photos' }),
  current: Type.Object(
    { ...operatingPoint, policy: ThresholdPolicySchema },
    { description: "at the threshold the line's policy gives this bank" },
  ),
  best: Type.Object(operatingPoint, { description: 'at the best-F1 threshold' }),
  wrong: Type.Array(EvaluationScoreSchema, { description: 'photos the current threshold decides wrongly, highest score first' }),
});

/**
 * The validation photos scored by one bank, with the figures at the time of the evaluation; the
 * API recomputes the figures from `scores` when the line's threshold changes later.
 */
export const EvaluationRecordSchema = Type.Object({
  line: Type.String(),
  bankVersion: Type.Integer(),
  evaluatedAt: Type.String(),
  scores: Type.Array(EvaluationScoreSchema),
  figures: EvaluationFiguresSchema,
});
