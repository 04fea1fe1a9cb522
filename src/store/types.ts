/** Records persisted under DATA_DIR (guide §4). These are the on-disk shapes; the API returns views of them. */
import type { DiscriminatorName, Method } from '../engine/index.js';

export interface ThresholdConfig {
  /** `auto`: m + k·s from the bank's calibration (guide §3); `fixed`: `value`. */
  policy: 'auto' | 'fixed';
  value?: number;
  /** k of `m + k·s`. */
  sensitivity: number;
}

/** Per-line settings. Build settings apply to the next build; `threshold` applies at once. */
export interface LineConfig {
  method: Method;
  discriminator: DiscriminatorName;
  lofK: number;
  removalQuantile: number;
  coresetRatio: number;
  /** Shorter side after resize, or null for the original size. */
  resize: number | null;
  /** Centre crop, or null for the whole (resized) frame. */
  crop: number | null;
  threshold: ThresholdConfig;
  /** A training image is a suspect in the noise report when its removed share exceeds this. */
  suspectShare: number;
  /** A build trains on the newest N photos (null: all), so older photos can age out with their banks. */
  trainImages: number | null;
  /** Retention: bank versions kept after each build (the newest N, and always the active one); null keeps all. */
  keepBanks: number | null;
  /** Retention: removing banks also deletes the training photos that only removed banks were built from. */
  pruneImages: boolean;
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
  /** m + sensitivity · s at build time. */
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
  rule: string;
  suspects: number;
  images: NoiseReportEntry[];
}
