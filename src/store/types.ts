/**
 * Records persisted under DATA_DIR (guide §4). These are the on-disk shapes; the API returns views
 * of them. The shapes the API also returns are the `Static` types of src/store/schemas.ts.
 */
import type { Static } from 'typebox';
import type { Method, ThresholdRule } from '../engine/index.js';
import type { TurnsChoice } from '../backbone/orientation.js';
import type {
  BuildErrorSchema,
  BuildRecordSchema,
  BuildStageSchema,
  BuildStatusSchema,
  EvaluationFiguresSchema,
  EvaluationRecordSchema,
  EvaluationScoreSchema,
  LineConfigPatchSchema,
  LineConfigSchema,
  NoiseReportEntrySchema,
  NoiseReportSchema,
  ThresholdConfigSchema,
  ValidationLabelSchema,
} from './schemas.js';

export type ThresholdConfig = Static<typeof ThresholdConfigSchema>;
export type LineConfig = Static<typeof LineConfigSchema>;
/** A partial configuration as a client sends it. */
export type LineConfigPatch = Static<typeof LineConfigPatchSchema>;
export type BuildStatus = Static<typeof BuildStatusSchema>;
export type BuildStage = Static<typeof BuildStageSchema>;
export type BuildError = Static<typeof BuildErrorSchema>;
export type BuildRecord = Static<typeof BuildRecordSchema>;
export type NoiseReportEntry = Static<typeof NoiseReportEntrySchema>;
export type NoiseReport = Static<typeof NoiseReportSchema>;
export type ValidationLabel = Static<typeof ValidationLabelSchema>;
/** One validation photo scored by a bank. */
export type EvaluationScore = Static<typeof EvaluationScoreSchema>;
export type EvaluationFigures = Static<typeof EvaluationFiguresSchema>;
/** The validation photos scored by one bank (banks/<version>/evaluation.json). */
export type EvaluationRecord = Static<typeof EvaluationRecordSchema>;

export interface LineRecord {
  id: string;
  name: string;
  config: LineConfig;
  createdAt: string;
  updatedAt: string;
  activeBank: number | null;
}

export interface ImageRecord {
  id: string;
  filename: string;
  contentType: string;
  format: string;
  ext: string;
  width: number;
  height: number;
  bytes: number;
  uploadedAt: string;
  /** Validation photos only. */
  label?: ValidationLabel;
}

/** Colour scale of a bank's heatmaps (guide §3): t = clamp((s − lo)/(hi − lo), 0, 1). */
export interface ColorScaleRecord {
  lo: number;
  hi: number;
  colormap: string;
}

export interface CalibrationRecord {
  /**
   * Leave-one-image-out image score of every training image, aligned with `trainingImages`, against
   * the stored bank (under `excludeSuspects` the one chosen without the suspects).
   */
  imageScores: number[];
  /** Training images left out of m and s because the noise report marks them suspect. */
  excluded: string[];
  median: number;
  /** s = 1.4826 · MAD. */
  spread: number;
  sensitivity: number;
  /** Rule `tail`: the Gumbel fitted to the kept scores, and how sure its threshold is (absent in older banks). */
  tail?: {
    location: number;
    scale: number;
    falseAlarmRate: number;
    threshold: number;
    bootstrap: { resamples: number; sd: number; p05: number; p95: number };
  };
  rule?: ThresholdRule;
  /** Training photos the threshold rests on (all minus the excluded suspects). */
  basis?: number;

  /** The threshold at build time, by the line's rule then. */
  threshold: number;
  /** Median of the calibration pixel scores (colour scale `lo`). */
  pixelMedian: number;
}

export interface BankFileRecord {
  sha256: string;
  bytes: number;
  dtype: 'float32' | 'int32' | 'uint8';
  length: number;
}

export interface BankMeta {
  format: 1;
  line: string;
  buildId: string;
  createdAt: string;
  method: Method;
  config: LineConfig;
  /** The views learnt of each training photo and why (`trainRotations`, decided for `auto`); absent in banks built before it. */
  turns?: TurnsChoice;
  /** The full engine configuration the bank was built with. */
  engineConfig: Record<string, unknown>;
  backbone: { id: string; sha256: string };
  grid: { h: number; w: number };
  dim: number;
  rows: { cls: number; seg: number | null };
  trainingImages: string[];
  calibration: CalibrationRecord;
  threshold: number;
  colorScale: ColorScaleRecord;
  files: Record<string, BankFileRecord>;
}
