/** Records persisted under DATA_DIR (guide §4). These are the on-disk shapes; the API returns views of them. */
import type { DiscriminatorName, Method, SuspectEvidence, ThresholdRule } from '../engine/index.js';

export interface ThresholdConfig {
  /** `auto`: from the bank's calibration by `rule` (guide §3); `fixed`: `value`. */
  policy: 'auto' | 'fixed';
  value?: number;
  /** k of `m + k·s` (rule `fence`). */
  sensitivity: number;
  /** `fence`: m + k·s (spec); `tail`: the fitted Gumbel tail's (1 − falseAlarmRate) quantile. */
  rule: ThresholdRule;
  falseAlarmRate: number;
}

/** Per-line settings. Build settings apply to the next build; `threshold` applies at once. */
export interface LineConfig {
  method: Method;
  discriminator: DiscriminatorName;
  lofK: number;
  /** Pose tolerance of lof/nearest in patches (engine `discriminatorWindow`). */
  discriminatorWindow: number;
  removalQuantile: number;
  coresetRatio: number;
  /** Shorter side after resize, or null for the original size. */
  resize: number | null;
  /** Centre crop, or null for the whole (resized) frame. */
  crop: number | null;
  threshold: ThresholdConfig;
  /** Noise report, evidence `removedShare`: a suspect lost more than this share of its patches. */
  suspectShare: number;
  /** Noise report: what ranks and flags the training photos (`SuspectEvidence`). */
  suspectEvidence: SuspectEvidence;
}

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
}

export type BuildStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type BuildStage = 'queued' | 'embedding' | 'denoising' | 'coreset' | 'calibrating' | 'writing' | 'done';

export interface BuildError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface BuildRecord {
  id: string;
  line: string;
  status: BuildStatus;
  stage: BuildStage;
  progress: { done: number; total: number } | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  config: LineConfig;
  /** Training images the build was started with. */
  images: number;
  timingsMs: Record<string, number>;
  bankVersion: number | null;
  error: BuildError | null;
}

/** Colour scale of a bank's heatmaps (guide §3): t = clamp((s − lo)/(hi − lo), 0, 1). */
export interface ColorScaleRecord {
  lo: number;
  hi: number;
  colormap: string;
}

export interface CalibrationRecord {
  /** Leave-one-image-out image score of every training image, aligned with `trainingImages`. */
  imageScores: number[];
  /** Training images left out of m and s because the noise report marks them suspect. */
  excluded: string[];
  median: number;
  /** s = 1.4826 · MAD. */
  spread: number;
  sensitivity: number;
  /** Rule `tail`: the Gumbel fitted to the kept scores, and how sure its threshold is (absent in older banks). */
  tail?: { location: number; scale: number; falseAlarmRate: number; threshold: number; bootstrap: { resamples: number; sd: number; p05: number; p95: number } };
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
  dtype: 'float32' | 'int32';
  length: number;
}

export interface BankMeta {
  format: 1;
  line: string;
  buildId: string;
  createdAt: string;
  method: Method;
  config: LineConfig;
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

export interface NoiseReportEntry {
  id: string;
  filename: string;
  removedShare: number;
  meanScore: number;
  maxScore: number;
  /** Mean of the image's highest patch outlier scores (`TOP_SCORE_SHARE` of its patches). */
  topScore: number;
  /** Leave-one-image-out image score against the new bank. */
  calibrationScore: number;
  suspect: boolean;
}

export interface NoiseReport {
  line: string;
  buildId: string;
  method: Method;
  removalQuantile: number;
  suspectShare: number;
  evidence: SuspectEvidence;
  rule: string;
  suspects: number;
  /** Evidence value above which a photo is a suspect. */
  fence: number;
  /** How separable the suspects are (`SuspectReport.gap`, `.borderline`). */
  separation: { gap: number | null; borderline: number };
  images: NoiseReportEntry[];
}
