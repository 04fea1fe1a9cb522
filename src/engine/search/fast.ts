/**
 * Fast exact search: candidates from a lower bound in a low-dimensional space, exact re-ranking.
 *
 * Built once per bank: the centre μ and an orthonormal basis P (pdim × D) of the bank's principal
 * subspace, and every row's augmented projection b' = [P(b − μ); ‖(I − PᵀP)(b − μ)‖].
 * For every pair ‖q' − b'‖² ≤ ‖q − b‖² (the residual norms differ by at most the norm of the
 * residual difference), so ranking the rows by ‖q' − b'‖² (a 129-d Gemm instead of a 1024-d one)
 * and computing exact float64 distances in that order until the next lower bound exceeds the best
 * distance found proves the nearest row. Queries whose proof does not close within the candidate
 * list go to the full-dimension Gemm's candidates, with the same walk, and the rare ones still
 * open are scanned row by row. The answer therefore always equals `nearestRowsReference`.
 *
 * Rounding: the bounds are loosened by worst-case float32 error bounds (Higham's γ_n = n·u/(1 − n·u)
 * per dot product of length n), orders of magnitude above the errors seen, so a float32 key never
 * prunes a row that the exact bound would keep.
 */
import { matmul, projectedTopK, projectRows, bankTensors, projectionTensors, DEFAULT_THREADS, type BankTensors, type ProjectionTensors, type TopKResult } from '../kernels/ort.js';
import { createRng, type Rng } from '../kernels/random.js';
import { gemmKeys, maskExcluded, prepareGemmIndex, queriesPerRun, type GemmIndex } from './gemm.js';
import { exactDist2, nearestRowScan } from './search-reference.js';
import type { NearestResult, SearchBank, SearchOptions, SearchStats } from './types.js';

const U = 2 ** -24;
const gamma = (n: number): number => (n * U) / (1 - n * U);

/** Rows sampled for the covariance: the basis only steers speed, so a sample is enough. */
const COVARIANCE_ROWS = 4096;
const SUBSPACE_ITERATIONS = 4;
/** Candidates per query in the full-dimension second stage. */
const FULL_CANDIDATES = 32;
/** Rows per projection run while preparing the bank. */
const PROJECT_ROWS = 8192;

export interface FastIndexOptions {
  threads?: number;
  projectionDim?: number;
  candidates?: number;
  seed?: number;
}

export interface FastIndex {
  gemm: GemmIndex;
  proj: ProjectionTensors;
  aug: BankTensors;
  augNorm2: Float32Array;
  maxAugNorm2: number;
  candidates: number;
  threads: number;
  stats: SearchStats;
}

function gaussian(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

/**
 * Gram-Schmidt with re-orthogonalisation ("twice is enough") on the columns of `cols`; a column
 * that falls into the span of the earlier ones (rank-deficient banks) is redrawn at random.
 */
function orthonormalise(cols: Float64Array[], passes: number, rng: Rng): void {
  const dot = (a: Float64Array, b: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * b[i];
    return s;
  };
  for (let j = 0; j < cols.length; j++) {
    const v = cols[j];
    for (;;) {
      const before = Math.sqrt(dot(v, v));
      for (let pass = 0; pass < passes; pass++) {
        for (let i = 0; i < j; i++) {
          const c = dot(cols[i], v);
          const u = cols[i];
          for (let t = 0; t < v.length; t++) v[t] -= c * u[t];
        }
      }
      const after = Math.sqrt(dot(v, v));
      if (after > 1e-6 * before && after > 0) {
        for (let t = 0; t < v.length; t++) v[t] /= after;
        break;
      }
      for (let t = 0; t < v.length; t++) v[t] = gaussian(rng);
    }
  }
}

/** Row-major float32 copy (dim × pdim) of the columns. */
function columnsToMatrix(cols: Float64Array[], dim: number): Float32Array {
  const pdim = cols.length;
  const m = new Float32Array(dim * pdim);
  for (let i = 0; i < pdim; i++) for (let j = 0; j < dim; j++) m[j * pdim + i] = cols[i][j];
  return m;
}

/**
 * Bank mean μ and an orthonormal basis (pdim × D, row-major) of the dominant principal subspace:
 * covariance of a row sample, then a few steps of subspace iteration.
 */
export async function principalSubspace(bank: SearchBank, pdim: number, threads: number, seed: number): Promise<{ mu: Float32Array; basis: Float32Array }> {
  const { features, rows, dim } = bank;
  const mean = new Float64Array(dim);
  for (let r = 0; r < rows; r++) for (let j = 0; j < dim; j++) mean[j] += features[r * dim + j];
  const mu = new Float32Array(dim);
  for (let j = 0; j < dim; j++) mu[j] = mean[j] / rows;

  const n = Math.min(rows, COVARIANCE_ROWS);
  const xc = new Float32Array(n * dim);
  const xct = new Float32Array(dim * n);
  for (let s = 0; s < n; s++) {
    const r = Math.floor((s * rows) / n);
    for (let j = 0; j < dim; j++) {
      const v = features[r * dim + j] - mu[j];
      xc[s * dim + j] = v;
      xct[j * n + s] = v;
    }
  }
  const cov = await matmul(xct, xc, dim, n, dim, threads);

  const rng = createRng(seed);
  const cols = Array.from({ length: pdim }, () => Float64Array.from({ length: dim }, () => gaussian(rng)));
  orthonormalise(cols, 1, rng);
  for (let it = 0; it < SUBSPACE_ITERATIONS; it++) {
    const z = await matmul(cov, columnsToMatrix(cols, dim), dim, dim, pdim, threads);
    for (let i = 0; i < pdim; i++) for (let j = 0; j < dim; j++) cols[i][j] = z[j * pdim + i];
    orthonormalise(cols, it === SUBSPACE_ITERATIONS - 1 ? 2 : 1, rng);
  }
  const basis = new Float32Array(pdim * dim);
  for (let i = 0; i < pdim; i++) basis.set(cols[i], i * dim);
  return { mu, basis };
}

export async function prepareFastIndex(bank: SearchBank, opts: FastIndexOptions = {}): Promise<FastIndex> {
  const { rows, dim } = bank;
  const threads = opts.threads ?? DEFAULT_THREADS;
  const pdim = Math.max(1, Math.min(opts.projectionDim ?? 128, dim - 1));
  const { mu, basis } = await principalSubspace(bank, pdim, threads, opts.seed ?? 0);
  const proj = projectionTensors(mu, basis, dim, pdim);

  const adim = pdim + 1;
  const augFeatures = new Float32Array(rows * adim);
  const augNorm2 = new Float32Array(rows);
  for (let r0 = 0; r0 < rows; r0 += PROJECT_ROWS) {
    const n = Math.min(PROJECT_ROWS, rows - r0);
    const part = await projectRows(proj, bank.features.subarray(r0 * dim), n, threads);
    augFeatures.set(part.aug, r0 * adim);
    augNorm2.set(part.norm2, r0);
  }
  let maxAugNorm2 = 0;
  for (let r = 0; r < rows; r++) maxAugNorm2 = Math.max(maxAugNorm2, augNorm2[r]);

  return {
    gemm: prepareGemmIndex(bank, threads),
    proj,
    aug: bankTensors(augFeatures, rows, adim),
    augNorm2,
    maxAugNorm2,
    candidates: Math.max(1, Math.min(opts.candidates ?? 64, rows)),
    threads,
    stats: { queries: 0, projected: 0, fullGemm: 0, scanned: 0 },
  };
}

/**
 * Walks query `q`'s `k` candidates (keys ascending, from `keys` at `off`) computing exact
 * distances; stops at the first key whose lower bound exceeds the best distance, since every later
 * candidate and every row outside the list has a key at least as large. Writes slot `slot` of
 * `out` and returns true when that proof closed (or the list held every row), false otherwise.
 */
function rerank(
  bank: SearchBank,
  queries: Float32Array,
  q: number,
  keys: TopKResult,
  off: number,
  k: number,
  lowerBound: (key: number) => number,
  out: NearestResult,
  slot: number,
): boolean {
  const { features, dim } = bank;
  let best = Infinity;
  let bestRow = -1;
  let proven = k >= bank.rows;
  for (let j = 0; j < k; j++) {
    const key = keys.values[off + j];
    // Infinite keys are excluded rows, and all later keys are infinite too.
    if (!(key < Infinity) || lowerBound(key) > best) {
      proven = true;
      break;
    }
    const row = Number(keys.indices[off + j]);
    const d = exactDist2(queries, q * dim, features, row * dim, dim);
    if (d < best || (d === best && row < bestRow)) {
      best = d;
      bestRow = row;
    }
  }
  if (proven) {
    out.index[slot] = bestRow;
    out.dist2[slot] = best;
  }
  return proven;
}

/** Lower bound on ‖q − b‖² from a projected key `‖b'‖² − 2q'·b'`, for a query with ‖q'‖² = qn2. */
function projectedBound(index: FastIndex, qn2: number): (key: number) => number {
  const { pdim, dim } = index.proj;
  // Key and norms come from float32 dot products of length pdim + 1 (the norms too, in the graph).
  const gemmTol = (2 * gamma(pdim + 1) + 3 * U) * (qn2 + index.maxAugNorm2);
  // Error of one computed augmented vector, relative to its norm: the projection, the residual and its norm.
  const rel = 1.01 * (2 * Math.sqrt(pdim + 1) * gamma(dim + 2) + Math.sqrt(dim) * gamma(pdim + 1) + 2 * gamma(dim));
  const slack = rel * (Math.sqrt(qn2) + Math.sqrt(index.maxAugNorm2));
  return (key) => {
    const root = Math.sqrt(Math.max(0, key + qn2 - gemmTol)) - slack;
    return root > 0 ? root * root : 0;
  };
}

/** Lower bound on ‖q − b‖² from a full-dimension key `‖b‖² − 2q·b`, for a query with ‖q‖² = qn. */
function fullBound(index: GemmIndex, qn: number): (key: number) => number {
  const tol = (gamma(index.bank.dim) + 4 * U) * (qn + index.maxNorm2);
  return (key) => key + qn - tol;
}

export async function fastNearest(index: FastIndex, queries: Float32Array, nq: number, opts: SearchOptions = {}): Promise<NearestResult> {
  const bank = index.gemm.bank;
  const { rows, dim } = bank;
  const out: NearestResult = { index: new Int32Array(nq), dist2: new Float32Array(nq) };
  const open: number[] = [];

  const augNorm2 = maskExcluded(index.augNorm2, opts);
  const k = index.candidates;
  const step = queriesPerRun(rows);
  for (let q0 = 0; q0 < nq; q0 += step) {
    const n = Math.min(step, nq - q0);
    const chunk = queries.subarray(q0 * dim, (q0 + n) * dim);
    const top = await projectedTopK(index.proj, index.aug, augNorm2, chunk, n, k, index.threads);
    for (let i = 0; i < n; i++) {
      const bound = projectedBound(index, top.queryNorm2[i]);
      if (!rerank(bank, chunk, i, top, i * k, k, bound, out, q0 + i)) open.push(q0 + i);
    }
  }

  let scanned = 0;
  if (open.length > 0) {
    const sub = new Float32Array(open.length * dim);
    open.forEach((q, i) => sub.set(queries.subarray(q * dim, (q + 1) * dim), i * dim));
    const k2 = Math.min(FULL_CANDIDATES, rows);
    const top = await gemmKeys(index.gemm, maskExcluded(index.gemm.norm2, opts), sub, open.length, k2);
    open.forEach((q, i) => {
      let qn = 0;
      for (let j = i * dim; j < (i + 1) * dim; j++) qn += sub[j] * sub[j];
      if (!rerank(bank, sub, i, top, i * k2, k2, fullBound(index.gemm, qn), out, q)) {
        nearestRowScan(bank, queries, q, out, opts);
        scanned++;
      }
    });
  }

  const s = index.stats;
  s.queries += nq;
  s.projected += nq - open.length;
  s.fullGemm += open.length - scanned;
  s.scanned += scanned;
  return out;
}
