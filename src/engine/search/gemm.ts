/**
 * Exact-GEMM search: all distances as ‖q‖² + ‖b‖² − 2q·b in one float32 Gemm, the minimum taken
 * inside the graph (TopK, k = 1) so only one value per query leaves onnxruntime. The chosen row's
 * distance is then recomputed in float64, so `dist2` carries no cancellation error; the argmin
 * itself is float32 and can differ from the reference on near-ties (far below 1e-4 relative).
 */
import { bankTensors, DEFAULT_THREADS, gemmTopK, type BankTensors, type TopKResult } from '../kernels/ort.js';
import { exactDist2 } from './search-reference.js';
import type { NearestResult, SearchBank, SearchOptions } from './types.js';
import { squaredNorms } from '../coreset/metric.js';

/** Largest query-by-row key matrix per graph run (float32 elements): 8 MB, about what each search session's arena keeps; larger runs were no faster at two threads, smaller ones slower. */
const CHUNK_ELEMENTS = 1 << 21;

export function queriesPerRun(rows: number): number {
  return Math.max(1, Math.floor(CHUNK_ELEMENTS / Math.max(1, rows)));
}

/** `norm2` with excluded rows set to Infinity, which keeps them out of every TopK. */
export function maskExcluded(norm2: Float32Array, opts: SearchOptions): Float32Array {
  const ex = opts.excludeSource;
  if (ex === undefined) return norm2;
  const out = Float32Array.from(norm2);
  for (let r = 0; r < out.length; r++) if (ex.sourceImage[r] === ex.image) out[r] = Infinity;
  return out;
}

/** The bank as a Gemm operand: made once per bank. */
export interface GemmIndex {
  bank: SearchBank;
  tensors: BankTensors;
  norm2: Float32Array;
  maxNorm2: number;
  threads: number;
}

export function prepareGemmIndex(bank: SearchBank, threads = DEFAULT_THREADS): GemmIndex {
  const norm2 = squaredNorms(bank.features, bank.rows, bank.dim);
  let maxNorm2 = 0;
  for (let r = 0; r < norm2.length; r++) maxNorm2 = Math.max(maxNorm2, norm2[r]);
  return { bank, tensors: bankTensors(bank.features, bank.rows, bank.dim), norm2, maxNorm2, threads };
}

/** `k` smallest keys `‖b‖² − 2q·b` per query, run in chunks that bound the key matrix. */
export async function gemmKeys(
  index: GemmIndex,
  norm2: Float32Array,
  queries: Float32Array,
  nq: number,
  k: number,
  threads = index.threads,
): Promise<TopKResult> {
  const { dim, rows } = index.bank;
  const kk = Math.min(k, rows);
  const values = new Float32Array(nq * kk);
  const indices = new BigInt64Array(nq * kk);
  const step = queriesPerRun(rows);
  for (let q0 = 0; q0 < nq; q0 += step) {
    const n = Math.min(step, nq - q0);
    const part = await gemmTopK(index.tensors, norm2, queries.subarray(q0 * dim), n, kk, threads);
    values.set(part.values, q0 * kk);
    indices.set(part.indices, q0 * kk);
  }
  return { values, indices };
}

export async function gemmNearest(index: GemmIndex, queries: Float32Array, nq: number, opts: SearchOptions = {}): Promise<NearestResult> {
  const { features, dim } = index.bank;
  const top = await gemmKeys(index, maskExcluded(index.norm2, opts), queries, nq, 1, opts.threads);
  const out: NearestResult = { index: new Int32Array(nq), dist2: new Float32Array(nq) };
  for (let q = 0; q < nq; q++) {
    const found = top.values[q] < Infinity;
    const row = found ? Number(top.indices[q]) : -1;
    out.index[q] = row;
    out.dist2[q] = found ? exactDist2(queries, q * dim, features, row * dim, dim) : Infinity;
  }
  return out;
}
