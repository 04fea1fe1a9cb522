/**
 * The `tail` threshold rule: a Gumbel distribution fitted to the leave-one-image-out scores and
 * its (1 − α) quantile. An image score is the maximum of a photo's patch scores, and the maximum
 * of many light-tailed values follows the Gumbel law (Fisher–Tippett), so its tail is the part of
 * the normal scores that a threshold must model; a fence m + k·s assumes a symmetric bell instead
 * and its false-alarm rate changes with the skew of each line's scores. L-moments are used for
 * the fit because they are nearly unbiased at the few dozen photos of a small line, and the
 * bootstrap tells how far the threshold would move with another draw of the same number of photos.
 */
import { createRng } from '../kernels/random.js';

/** Euler–Mascheroni constant: the mean of the standard Gumbel. */
const EULER_GAMMA = 0.5772156649015329;

export interface GumbelFit {
  location: number;
  scale: number;
}

/** Gumbel location and scale from the first two sample L-moments (Hosking 1990). */
export function fitGumbel(values: ArrayLike<number>): GumbelFit {
  const x = Float64Array.from(values).sort();
  const n = x.length;
  if (n === 0) return { location: NaN, scale: NaN };
  if (n === 1) return { location: x[0], scale: 0 };
  let b0 = 0;
  let b1 = 0;
  for (let i = 0; i < n; i++) {
    b0 += x[i];
    b1 += (i / (n - 1)) * x[i];
  }
  b0 /= n;
  b1 /= n;
  const l2 = 2 * b1 - b0;
  const scale = l2 / Math.LN2;
  return { location: b0 - EULER_GAMMA * scale, scale };
}

/** The (1 − α) quantile of a Gumbel: location + scale · (−ln(−ln(1 − α))). */
export function gumbelQuantile(fit: GumbelFit, falseAlarmRate: number): number {
  return fit.location + fit.scale * -Math.log(-Math.log(1 - falseAlarmRate));
}

export interface TailThreshold extends GumbelFit {
  falseAlarmRate: number;
  threshold: number;
  /** How sure the threshold is: the bootstrap over the same photos. */
  bootstrap: { resamples: number; sd: number; p05: number; p95: number };
}

/** Resamples of the bootstrap (enough for a 5–95 % band to two digits). */
export const BOOTSTRAP_RESAMPLES = 200;

export function tailThreshold(scores: readonly number[], falseAlarmRate: number, seed = 0): TailThreshold {
  const fit = fitGumbel(scores);
  const threshold = gumbelQuantile(fit, falseAlarmRate);
  const rng = createRng(seed);
  const n = scores.length;
  const draws = new Float64Array(BOOTSTRAP_RESAMPLES);
  const sample = new Float64Array(n);
  for (let r = 0; r < BOOTSTRAP_RESAMPLES; r++) {
    for (let i = 0; i < n; i++) sample[i] = scores[rng.int(n)];
    draws[r] = gumbelQuantile(fitGumbel(sample), falseAlarmRate);
  }
  const mean = draws.reduce((a, b) => a + b, 0) / BOOTSTRAP_RESAMPLES;
  const sd = Math.sqrt(draws.reduce((a, b) => a + (b - mean) ** 2, 0) / (BOOTSTRAP_RESAMPLES - 1));
  draws.sort();
  const at = (q: number): number => draws[Math.min(BOOTSTRAP_RESAMPLES - 1, Math.round(q * (BOOTSTRAP_RESAMPLES - 1)))];
  return { ...fit, falseAlarmRate, threshold, bootstrap: { resamples: BOOTSTRAP_RESAMPLES, sd, p05: at(0.05), p95: at(0.95) } };
}
