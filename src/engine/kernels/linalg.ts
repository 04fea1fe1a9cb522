/**
 * The engine's small dense linear algebra, defined once: standard normal draws (Box–Muller),
 * Gram–Schmidt orthonormalisation and the dominant principal subspace of a set of rows. The coreset
 * (cheap lower bounds) and the fast search (projected candidates) both steer their pruning with
 * such a basis; any orthonormal basis keeps their bounds valid, the principal one makes them tight.
 */
import { matmul } from './ort.js';
import { createRng, type Rng } from './random.js';

/** Standard normal draws, two per pair of uniforms (Box–Muller). */
export function normalSampler(rng: Rng): () => number {
  let spare = NaN;
  return () => {
    if (!Number.isNaN(spare)) {
      const v = spare;
      spare = NaN;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(1 - rng.next()));
    const t = 2 * Math.PI * rng.next();
    spare = r * Math.sin(t);
    return r * Math.cos(t);
  };
}

/**
 * Modified Gram–Schmidt, applied twice ("twice is enough"), on the `k` rows of `q` (row-major,
 * `k × dim`, float64). A row that falls into the span of the earlier ones (rank-deficient data) is
 * redrawn from `normal` and orthonormalised again.
 */
export function orthonormaliseRows(q: Float64Array, k: number, dim: number, normal: () => number): void {
  for (let r = 0; r < k; r++) {
    const v = q.subarray(r * dim, (r + 1) * dim);
    for (;;) {
      let before = 0;
      for (let j = 0; j < dim; j++) before += v[j] * v[j];
      for (let pass = 0; pass < 2; pass++) {
        for (let s = 0; s < r; s++) {
          const u = q.subarray(s * dim, (s + 1) * dim);
          let dot = 0;
          for (let j = 0; j < dim; j++) dot += u[j] * v[j];
          for (let j = 0; j < dim; j++) v[j] -= dot * u[j];
        }
      }
      let after = 0;
      for (let j = 0; j < dim; j++) after += v[j] * v[j];
      if (after > 1e-12 * before && after > 0) {
        const inv = 1 / Math.sqrt(after);
        for (let j = 0; j < dim; j++) v[j] *= inv;
        break;
      }
      for (let j = 0; j < dim; j++) v[j] = normal();
    }
  }
}

export interface SubspaceOptions {
  /** Rows sampled (evenly spaced) for the covariance: the basis only steers speed (default 4096). */
  sampleRows?: number;
  /** Subspace iterations (default 8). */
  iterations?: number;
  seed?: number;
  /** onnxruntime threads of the products (default 1). */
  threads?: number;
}

export interface Subspace {
  /** Mean of all rows (float64 sums). */
  mean: Float64Array;
  /** `k × dim` orthonormal rows (float64), by decreasing variance along them. */
  basis: Float64Array;
  k: number;
}

/**
 * Mean and the top-`k` principal directions of `rows × dim` row-major `x`: covariance of a row
 * sample (one float32 product), subspace iteration from a seeded normal start, Gram–Schmidt in
 * float64 after every step, then the directions sorted by their variance. `k ≥ dim` gives the
 * identity basis.
 */
export async function principalSubspace(
  x: Float32Array,
  rows: number,
  dim: number,
  k: number,
  opts: SubspaceOptions = {},
): Promise<Subspace> {
  const mean = new Float64Array(dim);
  for (let r = 0; r < rows; r++) for (let j = 0; j < dim; j++) mean[j] += x[r * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= Math.max(1, rows);
  if (k >= dim) {
    const basis = new Float64Array(dim * dim);
    for (let i = 0; i < dim; i++) basis[i * dim + i] = 1;
    return { mean, basis, k: dim };
  }
  const threads = opts.threads ?? 1;
  const n = Math.max(1, Math.min(rows, opts.sampleRows ?? 4096));
  const xc = new Float32Array(n * dim);
  const xct = new Float32Array(dim * n);
  for (let s = 0; s < n; s++) {
    const r = Math.floor((s * rows) / n);
    for (let j = 0; j < dim; j++) {
      const v = x[r * dim + j] - mean[j];
      xc[s * dim + j] = v;
      xct[j * n + s] = v;
    }
  }
  const cov = await matmul(xct, xc, dim, n, dim, threads);

  const normal = normalSampler(createRng(opts.seed ?? 0));
  const q = Float64Array.from({ length: k * dim }, normal);
  orthonormaliseRows(q, k, dim, normal);
  const qt = new Float32Array(dim * k);
  const iterations = opts.iterations ?? 8;
  for (let it = 0; it < iterations; it++) {
    for (let r = 0; r < k; r++) for (let j = 0; j < dim; j++) qt[j * k + r] = q[r * dim + j];
    const z = await matmul(cov, qt, dim, dim, k, threads);
    for (let r = 0; r < k; r++) for (let j = 0; j < dim; j++) q[r * dim + j] = z[j * k + r];
    orthonormaliseRows(q, k, dim, normal);
  }

  // Rayleigh quotients qᵀ·C·q order the directions, largest variance first.
  for (let r = 0; r < k; r++) for (let j = 0; j < dim; j++) qt[j * k + r] = q[r * dim + j];
  const cq = await matmul(cov, qt, dim, dim, k, threads);
  const order = Array.from({ length: k }, (_, r) => {
    let s = 0;
    for (let j = 0; j < dim; j++) s += q[r * dim + j] * cq[j * k + r];
    return { r, s };
  }).sort((a, b) => b.s - a.s || a.r - b.r);
  const basis = new Float64Array(k * dim);
  order.forEach(({ r }, i) => basis.set(q.subarray(r * dim, (r + 1) * dim), i * dim));
  return { mean, basis, k };
}
