/** The spec's `fence` threshold rule (guide §3): median + k · 1.4826 · MAD of the kept scores. */
import { median } from '../../common/stats.js';

/** k of the `fence` threshold m + k·s (guide §3). */
export const DEFAULT_SENSITIVITY = 3.5;

/** 1.4826 · MAD estimates σ for normally distributed scores. */
const MAD_TO_SIGMA = 1.4826;

/**
 * 1.4826 · MAD, floored at 1 % of |median| so that a perfectly uniform training set (MAD 0) still
 * gives a threshold above its own scores instead of flagging every tiny deviation.
 */
export function robustSpread(values: ArrayLike<number>, m = median(values)): number {
  const dev = Array.from(values, (v) => Math.abs(v - m));
  return Math.max(MAD_TO_SIGMA * median(dev), 0.01 * Math.abs(m));
}

export function thresholdFrom(
  scores: number[],
  suspects: ReadonlySet<number>,
  sensitivity: number,
): { median: number; spread: number; threshold: number } {
  const kept = scores.filter((_, i) => !suspects.has(i));
  const basis = kept.length > 0 ? kept : scores;
  const m = median(basis);
  const s = robustSpread(basis, m);
  return { median: m, spread: s, threshold: m + sensitivity * s };
}
