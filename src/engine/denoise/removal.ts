/**
 * Global removal and soft weights (spec §4.3, §4.4): one threshold over all N outlier scores,
 * strictly greater is removed; the weight of a row is its clamped score.
 */

/**
 * `q`-quantile with linear interpolation as `torch.quantile` computes it (= NumPy's default
 * `method="linear"` up to rounding): `h = q·(n − 1)`, then `torch.lerp`'s two-sided formula
 * (`b − (b − a)(1 − t)` for `t ≥ 0.5`).
 */
export function quantileLinear(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) throw new RangeError('quantileLinear of an empty array');
  const sorted = Float64Array.from(values).sort();
  const h = q * (sorted.length - 1);
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const t = h - lo;
  const a = sorted[lo];
  const b = sorted[hi];
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

export interface Removal {
  /** 1 = usable by the coreset, 0 = removed. */
  keep: Uint8Array;
  threshold: number;
  removedCount: number;
}

/** Removes the `tau` most outlying share: `keep[n] = scores[n] > t ? 0 : 1`, `t = quantile(scores, 1 − tau)`. */
export function removeOutliers(scores: ArrayLike<number>, tau: number): Removal {
  const threshold = quantileLinear(scores, 1 - tau);
  const keep = new Uint8Array(scores.length);
  let removedCount = 0;
  for (let n = 0; n < scores.length; n++) {
    if (scores[n] > threshold) removedCount++;
    else keep[n] = 1;
  }
  return { keep, threshold, removedCount };
}

/** Soft weights `w = max(s, 0)`; the `nearest`/`gaussian` scores already carry their +1. */
export function softWeights(scores: ArrayLike<number>): Float32Array {
  const w = new Float32Array(scores.length);
  for (let n = 0; n < scores.length; n++) w[n] = Math.max(scores[n], 0);
  return w;
}
