/**
 * Noise discriminators (spec §4.2), fast versions. Each position's `B × B` distance matrix is
 * computed once (upper triangle, in a WebAssembly SIMD kernel: kernels/position-distances.ts)
 * and shared by `lof` and `nearest`; the
 * neighbour lists are kept by insertion instead of a full sort. Distances use the same float64
 * sums of squared differences, in the same order, as `discriminators-reference.ts`, so `lof` and
 * `nearest` agree with it bit for bit; `gaussian` agrees to rounding.
 */
import { PositionDistances } from '../kernels/position-distances.js';
import type { DiscriminatorName } from '../types.js';

/** `images[b]` holds `patches` rows of `dim` float32 values (row p = position p of image b). */
export interface PatchSet {
  images: Float32Array[];
  patches: number;
  dim: number;
}

export interface DiscriminatorOptions {
  lofK: number;
  lofScoreCap: number | null;
}

/** Copies position `p` of every image into `out` (`B` rows of `dim` float64). */
export function gatherPosition(set: PatchSet, p: number, out: Float64Array): void {
  const { dim } = set;
  for (let b = 0; b < set.images.length; b++) {
    const src = set.images[b];
    const o = b * dim;
    const s = p * dim;
    for (let k = 0; k < dim; k++) out[o + k] = src[s + k];
  }
}

/**
 * The `kk` nearest other points of each point, ascending by distance then index, and their
 * distances (`idx`/`dist`, `count × kk`).
 */
function nearestLists(dm: Float64Array, count: number, kk: number, idx: Int32Array, dist: Float64Array): void {
  for (let q = 0; q < count; q++) {
    const base = q * kk;
    let filled = 0;
    for (let o = 0; o < count; o++) {
      if (o === q) continue;
      const d = dm[q * count + o];
      // Candidates come in ascending index order, so "strictly smaller" keeps index order on ties.
      if (filled === kk && d >= dist[base + kk - 1]) continue;
      let i = filled < kk ? filled++ : kk - 1;
      while (i > 0 && dist[base + i - 1] > d) {
        dist[base + i] = dist[base + i - 1];
        idx[base + i] = idx[base + i - 1];
        i--;
      }
      dist[base + i] = d;
      idx[base + i] = o;
    }
  }
}

/** Symmetric positive definite `a` (n × n, row-major) → lower Cholesky factor in place. */
function choleskyInPlace(a: Float64Array, n: number): void {
  for (let j = 0; j < n; j++) {
    let s = a[j * n + j];
    for (let m = 0; m < j; m++) s -= a[j * n + m] * a[j * n + m];
    const d = Math.sqrt(s);
    a[j * n + j] = d;
    for (let i = j + 1; i < n; i++) {
      let t = a[i * n + j];
      for (let m = 0; m < j; m++) t -= a[i * n + m] * a[j * n + m];
      a[i * n + j] = t / d;
    }
    for (let i = 0; i < j; i++) a[i * n + j] = 0;
  }
}

/** Scores every position of a patch set with one or more discriminators, reusing its buffers. */
export class PositionDiscriminator {
  readonly scores: Map<DiscriminatorName, Float64Array>;
  private readonly count: number;
  private readonly kk: number;
  private readonly points: Float64Array;
  /** The distance matrix of the position being scored (in the kernel's memory); null when no discriminator needs it. */
  private readonly distances: PositionDistances | null;
  private readonly dm: Float64Array;
  private readonly nbIdx: Int32Array;
  private readonly nbDist: Float64Array;
  private readonly lrd: Float64Array;
  private readonly centred: Float64Array;
  private readonly cov: Float64Array;

  /** `scores`: where to write each discriminator's scores (`B·P` each; e.g. shared with another thread); default new arrays. */
  constructor(
    private readonly set: PatchSet,
    private readonly names: readonly DiscriminatorName[],
    private readonly opts: DiscriminatorOptions,
    scores?: Map<DiscriminatorName, Float64Array>,
  ) {
    const count = set.images.length;
    const { dim } = set;
    this.count = count;
    this.kk = Math.max(1, Math.min(opts.lofK, count - 1));
    this.scores = scores ?? new Map(names.map((n) => [n, new Float64Array(count * set.patches)]));
    this.points = new Float64Array(count * dim);
    const needsMatrix = names.includes('lof') || names.includes('nearest');
    this.distances = needsMatrix && count > 1 ? new PositionDistances(count, dim) : null;
    this.dm = this.distances?.matrix ?? new Float64Array(0);
    this.nbIdx = new Int32Array(names.includes('lof') ? count * this.kk : 0);
    this.nbDist = new Float64Array(this.nbIdx.length);
    this.lrd = new Float64Array(count);
    const gaussian = names.includes('gaussian');
    this.centred = new Float64Array(gaussian ? dim * count : 0);
    this.cov = new Float64Array(gaussian ? dim * dim : 0);
  }

  /** Scores positions `p0 .. p1 − 1`. */
  run(p0: number, p1: number): void {
    for (let p = p0; p < p1; p++) {
      gatherPosition(this.set, p, this.points);
      this.distances?.compute(this.points);
      for (const name of this.names) {
        const out = this.scores.get(name)!;
        if (name === 'lof') this.lof(p, out);
        else if (name === 'nearest') this.nearest(p, out);
        else this.gaussian(p, out);
      }
    }
  }

  private lof(p: number, out: Float64Array): void {
    const { count, kk, nbIdx, nbDist, lrd, dm } = this;
    const P = this.set.patches;
    const cap = this.opts.lofScoreCap;
    if (count === 1) {
      out[p] = 1;
      return;
    }
    nearestLists(dm, count, kk, nbIdx, nbDist);
    for (let q = 0; q < count; q++) {
      let sum = 0;
      for (let i = 0; i < kk; i++) {
        const o = nbIdx[q * kk + i];
        const kd = nbDist[o * kk + kk - 1];
        const d = nbDist[q * kk + i];
        sum += d > kd ? d : kd;
      }
      lrd[q] = 1 / (sum / kk + 1e-10);
    }
    for (let q = 0; q < count; q++) {
      let sum = 0;
      for (let i = 0; i < kk; i++) sum += lrd[nbIdx[q * kk + i]] / lrd[q];
      const lof = sum / kk;
      out[q * P + p] = cap === null ? lof : Math.min(lof, cap);
    }
  }

  private nearest(p: number, out: Float64Array): void {
    const { count, dm } = this;
    const P = this.set.patches;
    for (let q = 0; q < count; q++) {
      let best = count === 1 ? 0 : Infinity;
      for (let o = 0; o < count; o++) {
        if (o !== q && dm[q * count + o] < best) best = dm[q * count + o];
      }
      out[q * P + p] = best + 1;
    }
  }

  /** Covariance from the transposed centred points (dim × B) so every inner loop is contiguous. */
  private gaussian(p: number, out: Float64Array): void {
    const { count, points, centred: xt, cov } = this;
    const { dim } = this.set;
    const P = this.set.patches;
    for (let i = 0; i < dim; i++) {
      let mean = 0;
      for (let b = 0; b < count; b++) mean += points[b * dim + i];
      mean /= count;
      for (let b = 0; b < count; b++) xt[i * count + b] = points[b * dim + i] - mean;
    }
    const inv = count > 1 ? 1 / (count - 1) : 0;
    for (let i = 0; i < dim; i += 2) {
      const i1 = Math.min(i + 1, dim - 1);
      for (let j = 0; j <= i1; j += 2) {
        const j1 = Math.min(j + 1, dim - 1);
        let s00 = 0,
          s01 = 0,
          s10 = 0,
          s11 = 0;
        const a0 = i * count,
          a1 = i1 * count,
          b0 = j * count,
          b1 = j1 * count;
        for (let b = 0; b < count; b++) {
          const x = xt[a0 + b],
            y = xt[a1 + b],
            u = xt[b0 + b],
            v = xt[b1 + b];
          s00 += x * u;
          s01 += x * v;
          s10 += y * u;
          s11 += y * v;
        }
        cov[i * dim + j] = s00 * inv;
        cov[j * dim + i] = s00 * inv;
        cov[i * dim + j1] = s01 * inv;
        cov[j1 * dim + i] = s01 * inv;
        cov[i1 * dim + j] = s10 * inv;
        cov[j * dim + i1] = s10 * inv;
        cov[i1 * dim + j1] = s11 * inv;
        cov[j1 * dim + i1] = s11 * inv;
      }
    }
    for (let i = 0; i < dim; i++) cov[i * dim + i] += 0.01;
    choleskyInPlace(cov, dim);
    // Whiten all points at once: rows of xt become L⁻¹·(z − μ), row by row (forward substitution).
    for (let i = 0; i < dim; i++) {
      const ri = i * count;
      for (let m = 0; m < i; m++) {
        const l = cov[i * dim + m];
        if (l === 0) continue;
        const rm = m * count;
        for (let b = 0; b < count; b++) xt[ri + b] -= l * xt[rm + b];
      }
      const invDiag = 1 / cov[i * dim + i];
      for (let b = 0; b < count; b++) xt[ri + b] *= invDiag;
    }
    for (let b = 0; b < count; b++) {
      let q = 0;
      for (let i = 0; i < dim; i++) q += xt[i * count + b] * xt[i * count + b];
      out[b * P + p] = Math.sqrt(q) + 1;
    }
  }
}

/** Convenience: every position at once. */
export function discriminate(
  set: PatchSet,
  names: readonly DiscriminatorName[],
  opts: DiscriminatorOptions,
): Map<DiscriminatorName, Float64Array> {
  const d = new PositionDiscriminator(set, names, opts);
  d.run(0, set.patches);
  return d.scores;
}
