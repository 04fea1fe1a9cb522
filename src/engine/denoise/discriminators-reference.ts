/**
 * Plain reference implementations of the noise discriminators (spec §4.2), one position at a time,
 * written to read like the spec. `discriminators.ts` holds the fast versions; the tests compare the
 * two. Everything is float64.
 */
import type { DiscriminatorName } from '../types.js';
import { type DiscriminatorOptions, type PatchSet, gatherPosition } from './discriminators.js';

function distance(points: Float64Array, dim: number, q: number, o: number): number {
  let s = 0;
  for (let k = 0; k < dim; k++) {
    const t = points[q * dim + k] - points[o * dim + k];
    s += t * t;
  }
  return Math.sqrt(s);
}

/** Local outlier factor of each of the `B` points against the others (scikit-learn semantics, spec §4.2). */
export function lofReference(points: Float64Array, count: number, dim: number, k: number, cap: number | null): Float64Array {
  const out = new Float64Array(count);
  if (count === 1) {
    out[0] = 1;
    return out;
  }
  const kk = Math.max(1, Math.min(k, count - 1));
  const neighbours: number[][] = [];
  const kDistance = new Float64Array(count);
  for (let q = 0; q < count; q++) {
    const others: { o: number; d: number }[] = [];
    for (let o = 0; o < count; o++) if (o !== q) others.push({ o, d: distance(points, dim, q, o) });
    // Ascending distance, then ascending index.
    others.sort((a, b) => a.d - b.d || a.o - b.o);
    neighbours.push(others.slice(0, kk).map((e) => e.o));
    kDistance[q] = others[kk - 1].d;
  }
  const lrd = new Float64Array(count);
  for (let q = 0; q < count; q++) {
    let sum = 0;
    for (const o of neighbours[q]) sum += Math.max(distance(points, dim, q, o), kDistance[o]);
    lrd[q] = 1 / (sum / kk + 1e-10);
  }
  for (let q = 0; q < count; q++) {
    let sum = 0;
    for (const o of neighbours[q]) sum += lrd[o] / lrd[q];
    const lof = sum / kk;
    out[q] = cap === null ? lof : Math.min(lof, cap);
  }
  return out;
}

/** Distance to the closest other point, plus 1 (spec §4.2 `nearest`; B = 1 → 1). */
export function nearestReference(points: Float64Array, count: number, dim: number): Float64Array {
  const out = new Float64Array(count);
  for (let q = 0; q < count; q++) {
    let best = count === 1 ? 0 : Infinity;
    for (let o = 0; o < count; o++) if (o !== q) best = Math.min(best, distance(points, dim, q, o));
    out[q] = best + 1;
  }
  return out;
}

/**
 * Mahalanobis distance to the Gaussian fitted on all `B` points (unbiased covariance + 0.01·I),
 * plus 1 (spec §4.2 `gaussian`; B = 1 → covariance 0.01·I).
 */
export function gaussianReference(points: Float64Array, count: number, dim: number): Float64Array {
  const mean = new Float64Array(dim);
  for (let b = 0; b < count; b++) for (let i = 0; i < dim; i++) mean[i] += points[b * dim + i];
  for (let i = 0; i < dim; i++) mean[i] /= count;
  const cov = new Float64Array(dim * dim);
  if (count > 1) {
    for (let b = 0; b < count; b++) {
      for (let i = 0; i < dim; i++) {
        for (let j = 0; j < dim; j++) cov[i * dim + j] += (points[b * dim + i] - mean[i]) * (points[b * dim + j] - mean[j]);
      }
    }
    for (let i = 0; i < dim * dim; i++) cov[i] /= count - 1;
  }
  for (let i = 0; i < dim; i++) cov[i * dim + i] += 0.01;
  // Cholesky: cov = L·Lᵀ.
  const l = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) {
    for (let j = 0; j <= i; j++) {
      let s = cov[i * dim + j];
      for (let m = 0; m < j; m++) s -= l[i * dim + m] * l[j * dim + m];
      l[i * dim + j] = i === j ? Math.sqrt(s) : s / l[j * dim + j];
    }
  }
  const out = new Float64Array(count);
  const v = new Float64Array(dim);
  const y = new Float64Array(dim);
  const x = new Float64Array(dim);
  for (let b = 0; b < count; b++) {
    for (let i = 0; i < dim; i++) v[i] = points[b * dim + i] - mean[i];
    // cov·x = v by L·y = v, then Lᵀ·x = y; the quadratic form is vᵀ·x.
    for (let i = 0; i < dim; i++) {
      let s = v[i];
      for (let m = 0; m < i; m++) s -= l[i * dim + m] * y[m];
      y[i] = s / l[i * dim + i];
    }
    for (let i = dim - 1; i >= 0; i--) {
      let s = y[i];
      for (let m = i + 1; m < dim; m++) s -= l[m * dim + i] * x[m];
      x[i] = s / l[i * dim + i];
    }
    let quad = 0;
    for (let i = 0; i < dim; i++) quad += v[i] * x[i];
    out[b] = Math.sqrt(Math.max(0, quad)) + 1;
  }
  return out;
}

/** Every position, every named discriminator: scores flattened image-major (`n = b·P + p`). */
export function discriminateReference(
  set: PatchSet,
  names: readonly DiscriminatorName[],
  opts: DiscriminatorOptions,
): Map<DiscriminatorName, Float64Array> {
  const count = set.images.length;
  const result = new Map<DiscriminatorName, Float64Array>(names.map((n) => [n, new Float64Array(count * set.patches)]));
  const points = new Float64Array(count * set.dim);
  for (let p = 0; p < set.patches; p++) {
    gatherPosition(set, p, points);
    for (const name of names) {
      const s =
        name === 'lof'
          ? lofReference(points, count, set.dim, opts.lofK, opts.lofScoreCap)
          : name === 'nearest'
            ? nearestReference(points, count, set.dim)
            : gaussianReference(points, count, set.dim);
      const out = result.get(name)!;
      for (let b = 0; b < count; b++) out[b * set.patches + p] = s[b];
    }
  }
  return result;
}
