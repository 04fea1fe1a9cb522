/** Shapes that cross the engine boundary. The engine is pure math on typed arrays. */

export const METHODS = ['patchcore', 'softpatch', 'softpatch+'] as const;
export type Method = (typeof METHODS)[number];
export const DISCRIMINATORS = ['lof', 'nearest', 'gaussian'] as const;
export type DiscriminatorName = (typeof DISCRIMINATORS)[number];

export interface PlusConfig {
  discriminators: DiscriminatorName[];
  fusion: 'rank' | 'minmax' | 'maxRank';
  rankScope: 'global' | 'perPosition';
  tauCls: number;
  tauSeg: number;
  weightSource: 'lof' | 'fused' | 'none';
  coresetRatioCls: number | null; // null = coresetRatio
  coresetRatioSeg: number | null;
  sharedProjection: boolean;
}

export interface EngineConfig {
  method: Method;
  discriminator: DiscriminatorName;
  lofK: number;
  lofScoreCap: number | null;
  /**
   * Pose tolerance of `lof` / `nearest`: a patch is compared with the other photos' patches at
   * every position within this Chebyshev radius (in patches) of its own. 0 = the spec's
   * per-position discriminator. `gaussian` stays per position.
   */
  discriminatorWindow: number;
  removalQuantile: number; // τ
  coresetRatio: number; // ρ
  projectionDim: number; // 128
  startPoints: number; // 10
  discriminatorSpace: 'proj128' | 'full';
  firstPickRespectsMask: boolean;
  softWeights: boolean;
  blurSigma: number; // 4
  seed: number;
  plus: PlusConfig;
}

/**
 * Training features, read image by image: image b is P rows of `dim` floats (row p = y·w + x).
 * A build reads each image a few times (projection, bank rows, calibration) and keeps none of
 * them, so the features may live outside memory: the service spills them to disk while embedding,
 * and a build's memory then does not grow with the training set by P·dim floats per image.
 */
export interface TrainingFeatures {
  /** Number of training images (photos). */
  count: number;
  /**
   * Views of every photo the build learns from (default 1): view 0 is the photo as uploaded, the
   * others the same photo turned (`trainRotations`), so that a part lying at any angle finds its
   * pose in the bank. Every view is denoised and offered to the coreset; calibration, the noise
   * report and bank rows' `sourceImage` count photos, so leaving a photo out leaves all its views out.
   */
  views?: number;
  grid: { h: number; w: number };
  dim: number;
  /** View `view` (default 0) of image b, a fresh array or a view the caller must not write. */
  read(b: number, view?: number): Promise<Float32Array>;
  /** True when every image is held in memory anyway (it then counts in the build's memory estimate). */
  resident: boolean;
}

/** One memory bank: `rows` × `dim` features with a soft weight and the source training image per row. */
export interface Bank {
  rows: number;
  dim: number;
  features: Float32Array;
  weights: Float32Array;
  sourceImage: Int32Array;
  /** The shared WebAssembly memory `features` is a view of (`kernels/exact.ts`), when it is one. */
  memory?: WebAssembly.Memory;
}

/** A built model: softpatch+ keeps separate classification and segmentation banks; others use `cls` for both. */
export interface BankSet {
  method: Method;
  grid: { h: number; w: number };
  cls: Bank;
  seg: Bank | null;
}

export interface NoiseEntry {
  image: number;
  removedShare: number;
  meanScore: number;
  maxScore: number;
  /** Mean of the image's highest outlier scores (`TOP_SCORE_SHARE` of its patches; 0 for patchcore). */
  topScore: number;
}

export interface BuildProgress {
  stage: 'denoising' | 'coreset';
  done: number;
  total: number;
}

export interface BuildResult {
  bankSet: BankSet;
  noise: NoiseEntry[];
  /**
   * 1 per training patch removed as noise, of the photos as uploaded (view 0; classification bank;
   * image-major, grid row-major); all 0 for patchcore.
   */
  removed: Uint8Array;
  stats: { removedShare: number; timingsMs: Record<string, number> };
  /**
   * The bank set chosen again by the coreset as if the photos `without` had not been uploaded (none
   * of their patches; as many rows per remaining patch), on this build's projections, denoising
   * and start points (`excludeSuspects`).
   */
  rebuildWithout(without: ReadonlySet<number>, hooks?: RebuildHooks): Promise<BankSet>;
}

/**
 * How a bank is chosen without some photos (`excludeSuspects`). `coreset`: the greedy coreset again
 * over the rows left. `repair`: the first coreset's picks without the photos' rows, topped up to
 * the bank's size by the same greedy loop (`coreset/repair.ts`).
 */
export const SUSPECT_REBUILDS = ['coreset', 'repair'] as const;
export type SuspectRebuild = (typeof SUSPECT_REBUILDS)[number];

export interface RebuildHooks {
  onProgress?(p: BuildProgress): void;
  signal?: AbortSignal;
  /** Default `coreset`. */
  how?: SuspectRebuild;
}

export interface PatchScores {
  /** a_p per patch (weighted squared distance), length P. */
  scores: Float32Array;
  /** Image score: max_p of the classification scores. */
  imageScore: number;
  /** Patch scores used for the map (seg bank for softpatch+, else same as `scores`). */
  mapScores: Float32Array;
}
