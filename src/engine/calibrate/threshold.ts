/**
 * The label-free decision threshold (guide §3). Every training image is scored against the new
 * bank with its own memory rows excluded (leave-one-image-out), so it cannot find itself; the
 * threshold is a robust upper fence of those scores, computed without the noise-report suspects so
 * that the defective uploads do not drag it up.
 */
import { anomalyMap, decisionMap } from '../score/map.js';
import { createBankSearchers, releaseBankSearchers, scorePatches } from '../score/score.js';
import type { Bank, BankSet } from '../types.js';
import { median } from '../../common/stats.js';

/** k of the `auto` threshold m + k·s (guide §3). */
export const DEFAULT_SENSITIVITY = 3.5;

/** 1.4826 · MAD estimates σ for normally distributed scores. */
const MAD_TO_SIGMA = 1.4826;

export interface Calibration {
  /** Leave-one-image-out image score per training image (build order). */
  scores: number[];
  median: number;
  /** Robust spread s = 1.4826 · MAD (floored, see `robustSpread`). */
  spread: number;
  sensitivity: number;
  threshold: number;
  /** Median of the calibration pixel scores: the bottom of the heatmap colour scale. */
  pixelMedian: number;
  /** Training images left out of m and s (suspects). */
  excluded: number[];
}

/**
 * 1.4826 · MAD, floored at 1 % of |median| so that a perfectly uniform training set (MAD 0) still
 * gives a threshold above its own scores instead of flagging every tiny deviation.
 */
export function robustSpread(values: ArrayLike<number>, m = median(values)): number {
  const dev = Array.from(values, (v) => Math.abs(v - m));
  return Math.max(MAD_TO_SIGMA * median(dev), 0.01 * Math.abs(m));
}

export function thresholdFrom(scores: number[], suspects: ReadonlySet<number>, sensitivity: number): { median: number; spread: number; threshold: number } {
  const kept = scores.filter((_, i) => !suspects.has(i));
  const basis = kept.length > 0 ? kept : scores;
  const m = median(basis);
  const s = robustSpread(basis, m);
  return { median: m, spread: s, threshold: m + sensitivity * s };
}

export interface CalibrationInput {
  bankSet: BankSet;
  /** Training features in build order (the bank's source image indices refer to these). */
  features: Float32Array[];
  suspects: ReadonlySet<number>;
  sensitivity: number;
  /** Map resolution (the crop) and blur of spec §6. */
  mapSize: { h: number; w: number };
  blurSigma: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** onnxruntime threads of the search (engine default when absent). */
  threads?: number;
}

/** The training image every row of `bank` comes from, or -1 (rows from several images, or none). */
function soleSource(bank: Bank | null): number {
  if (!bank || bank.rows === 0) return -1;
  const first = bank.sourceImage[0];
  for (let r = 1; r < bank.rows; r++) if (bank.sourceImage[r] !== first) return -1;
  return first;
}

export async function calibrate(input: CalibrationInput): Promise<Calibration> {
  const { bankSet, features, sensitivity, mapSize } = input;
  // A tiny bank can hold rows of one image only: that image cannot be left out of it. It is scored
  // against the whole bank (for the noise report) and, like a suspect, kept out of m and s.
  const owners = new Set([soleSource(bankSet.cls), soleSource(bankSet.seg)].filter((b) => b >= 0));
  const suspects = new Set([...input.suspects, ...owners]);
  const scores: number[] = [];
  const pixelMedians: number[] = [];
  // One search structure for all B images (building one per call would dominate the cost).
  const searchers = await createBankSearchers(bankSet, input.threads === undefined ? {} : { threads: input.threads });
  try {
    for (let b = 0; b < features.length; b++) {
      input.signal?.throwIfAborted();
      const r = await scorePatches(bankSet, features[b], owners.has(b) ? { searchers } : { excludeImage: b, searchers });
      scores.push(r.imageScore);
      // The median of all pixel scores (of the decision map, the scale inspections draw) is
      // estimated as the median of per-image medians: exact enough for a colour scale and O(B)
      // memory instead of B·H·W.
      pixelMedians.push(median(decisionMap(anomalyMap(r.mapScores, bankSet.grid, mapSize.h, mapSize.w, input.blurSigma), r.imageScore)));
      input.onProgress?.(b + 1, features.length);
    }
  } finally {
    releaseBankSearchers(searchers);
  }
  const t = thresholdFrom(scores, suspects, sensitivity);
  return { scores, ...t, sensitivity, pixelMedian: median(pixelMedians), excluded: [...suspects].sort((a, b) => a - b) };
}
