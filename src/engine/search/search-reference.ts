/**
 * Nearest memory row, the plain way (spec §6 step 2): exact squared Euclidean distance in float64,
 * lowest row index on ties. The fast searchers re-rank their candidates with the same
 * `exactDist2`, so their distances are bit-identical to this loop's and ties resolve the same way.
 */
import type { NearestResult, SearchBank, SearchOptions } from './types.js';

/** ‖q − b‖² in float64, four running sums (a fixed order, so every caller gets the same bits). */
export function exactDist2(queries: Float32Array, qOff: number, features: Float32Array, bOff: number, dim: number): number {
  return exactDist2Below(queries, qOff, features, bOff, dim, Infinity);
}

/** Dimensions between checks of the partial sum against the limit. */
const CHECK_EVERY = 64;

/**
 * `exactDist2`, bit for bit, or, as soon as the partial sum after a block of `CHECK_EVERY`
 * dimensions exceeds `limit`, that partial sum. Every term is a square, so the four running sums
 * only grow and (rounding being monotone) the full distance would exceed `limit` too: a caller
 * that keeps the smallest distance (ties to the lower row) gets the same answer without the rest
 * of the row.
 */
export function exactDist2Below(
  queries: Float32Array,
  qOff: number,
  features: Float32Array,
  bOff: number,
  dim: number,
  limit: number,
): number {
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0;
  let j = 0;
  while (j + 3 < dim) {
    const blockEnd = Math.min(dim, j + CHECK_EVERY);
    for (; j + 3 < blockEnd; j += 4) {
      const t0 = queries[qOff + j] - features[bOff + j];
      const t1 = queries[qOff + j + 1] - features[bOff + j + 1];
      const t2 = queries[qOff + j + 2] - features[bOff + j + 2];
      const t3 = queries[qOff + j + 3] - features[bOff + j + 3];
      s0 += t0 * t0;
      s1 += t1 * t1;
      s2 += t2 * t2;
      s3 += t3 * t3;
    }
    const partial = s0 + s1 + (s2 + s3);
    if (partial > limit) return partial;
  }
  for (; j < dim; j++) {
    const t = queries[qOff + j] - features[bOff + j];
    s0 += t * t;
  }
  return s0 + s1 + (s2 + s3);
}

/** Scans every row for query `q`; writes slot `q` of `out`. */
export function nearestRowScan(bank: SearchBank, queries: Float32Array, q: number, out: NearestResult, opts: SearchOptions = {}): void {
  const { features, rows, dim } = bank;
  const ex = opts.excludeSource;
  let best = Infinity;
  let bestRow = -1;
  for (let r = 0; r < rows; r++) {
    if (ex !== undefined && ex.sourceImage[r] === ex.image) continue;
    const d = exactDist2(queries, q * dim, features, r * dim, dim);
    if (d < best) {
      best = d;
      bestRow = r;
    }
  }
  out.index[q] = bestRow;
  out.dist2[q] = best;
}

export function nearestRowsReference(bank: SearchBank, queries: Float32Array, nq: number, opts: SearchOptions = {}): NearestResult {
  const out: NearestResult = { index: new Int32Array(nq), dist2: new Float32Array(nq) };
  for (let q = 0; q < nq; q++) nearestRowScan(bank, queries, q, out, opts);
  return out;
}
