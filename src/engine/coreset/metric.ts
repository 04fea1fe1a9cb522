/**
 * The one definition of the coreset's float32 distance (spec §5), shared by the reference loop and
 * the fast sampler so that both see the same bits:
 *   ‖a‖² = float32(Σ a_k², summed in float64),  a·b = float32(even-k sum + odd-k sum, float64),
 *   D(a, b) = float32(√max(0, float32(float32(‖a‖² + ‖b‖²) − 2·(a·b)))).
 * (PyTorch's float32 matmul rounds differently; only self-consistency matters here.)
 */
import type { Rng } from '../kernels/random.js';

export interface CoresetInput {
  /** Projected rows, `count × dim` float32 (may live in a SharedArrayBuffer). */
  y: Float32Array;
  count: number;
  dim: number;
  /** κ: 1 = usable, 0 = removed (length `count`). */
  keep: Uint8Array;
  /** M: number of picks. */
  picks: number;
  /** S0: rows whose mean distance seeds δ. */
  startPoints: Int32Array;
  /** Multiply the initial δ by κ (switch of spec §5; official: false). */
  firstPickRespectsMask: boolean;
}

export function squaredNorms(y: Float32Array, count: number, dim: number): Float32Array {
  const out = new Float32Array(count);
  for (let n = 0; n < count; n++) {
    let s = 0;
    for (let k = n * dim, e = k + dim; k < e; k++) s += y[k] * y[k];
    out[n] = s;
  }
  return out;
}

/** Dot product of rows `a` and `b`: float64, even and odd `k` summed separately, rounded to float32. */
export function rowDot(y: Float32Array, a: number, b: number, dim: number): number {
  const ia = a * dim;
  const ib = b * dim;
  let s0 = 0,
    s1 = 0;
  let k = 0;
  for (; k + 1 < dim; k += 2) {
    s0 += y[ia + k] * y[ib + k];
    s1 += y[ia + k + 1] * y[ib + k + 1];
  }
  if (k < dim) s0 += y[ia + k] * y[ib + k];
  return Math.fround(s0 + s1);
}

function fromDot(na: number, nb: number, dot: number): number {
  const s = Math.fround(Math.fround(na + nb) - 2 * dot);
  return Math.fround(Math.sqrt(s > 0 ? s : 0));
}

export function coresetDistance(y: Float32Array, norms: Float32Array, a: number, b: number, dim: number): number {
  return fromDot(norms[a], norms[b], rowDot(y, a, b, dim));
}

/**
 * `D(a_i, b)` for the rows `i = slots[start .. start + 3]` of `a` (squared norms in `aNorms`)
 * against row `bRow` of `b`, into `out[start ..]`: the same bits as `coresetDistance`. Four rows
 * share one pass over `b`'s row, which keeps eight independent sums in flight.
 */
export function coresetDistances4(
  a: Float32Array,
  aNorms: Float32Array,
  slots: Int32Array,
  start: number,
  b: Float32Array,
  bRow: number,
  bNorm: number,
  dim: number,
  out: Float32Array,
): void {
  const ib = bRow * dim;
  const r0 = slots[start],
    r1 = slots[start + 1],
    r2 = slots[start + 2],
    r3 = slots[start + 3];
  const i0 = r0 * dim,
    i1 = r1 * dim,
    i2 = r2 * dim,
    i3 = r3 * dim;
  let a0 = 0,
    b0 = 0,
    a1 = 0,
    b1 = 0,
    a2 = 0,
    b2 = 0,
    a3 = 0,
    b3 = 0;
  let k = 0;
  for (; k + 1 < dim; k += 2) {
    const u = b[ib + k];
    const v = b[ib + k + 1];
    a0 += a[i0 + k] * u;
    b0 += a[i0 + k + 1] * v;
    a1 += a[i1 + k] * u;
    b1 += a[i1 + k + 1] * v;
    a2 += a[i2 + k] * u;
    b2 += a[i2 + k + 1] * v;
    a3 += a[i3 + k] * u;
    b3 += a[i3 + k + 1] * v;
  }
  if (k < dim) {
    const u = b[ib + k];
    a0 += a[i0 + k] * u;
    a1 += a[i1 + k] * u;
    a2 += a[i2 + k] * u;
    a3 += a[i3 + k] * u;
  }
  out[start] = fromDot(aNorms[r0], bNorm, Math.fround(a0 + b0));
  out[start + 1] = fromDot(aNorms[r1], bNorm, Math.fround(a1 + b1));
  out[start + 2] = fromDot(aNorms[r2], bNorm, Math.fround(a2 + b2));
  out[start + 3] = fromDot(aNorms[r3], bNorm, Math.fround(a3 + b3));
}

/** δ_n = mean over S0 of D(n, s), for rows `lo .. hi − 1` (float64 sum, rounded to float32). */
export function startDistances(input: CoresetInput, norms: Float32Array, lo: number, hi: number): Float32Array {
  const { y, dim, startPoints, keep } = input;
  const out = new Float32Array(hi - lo);
  for (let n = lo; n < hi; n++) {
    if (input.firstPickRespectsMask && keep[n] === 0) continue;
    let s = 0;
    for (const sp of startPoints) s += coresetDistance(y, norms, n, sp, dim);
    out[n - lo] = s / startPoints.length;
  }
  return out;
}

/** S0: `min(wanted, count)` distinct rows, drawn uniformly in draw order (rejection of repeats). */
export function drawStartPoints(rng: Rng, count: number, wanted: number): Int32Array {
  if (count <= wanted) return Int32Array.from({ length: count }, (_, i) => i);
  const chosen = new Set<number>();
  const out = new Int32Array(wanted);
  let i = 0;
  while (i < wanted) {
    const n = rng.int(count);
    if (chosen.has(n)) continue;
    chosen.add(n);
    out[i++] = n;
  }
  return out;
}
