/**
 * Fast exact search: candidates from a lower bound in a low-dimensional space, exact re-ranking.
 *
 * Built once per bank: the centre μ and an orthonormal basis P (pdim × D) of the bank's principal
 * subspace, and every row's augmented projection b' = [P(b − μ); ‖(I − PᵀP)(b − μ)‖].
 * For every pair ‖q' − b'‖² ≤ ‖q − b‖² (the residual norms differ by at most the norm of the
 * residual difference), so ranking the rows by ‖q' − b'‖² (a 129-d Gemm instead of a 1024-d one)
 * and computing exact float64 distances in that order until the next lower bound exceeds the best
 * distance found proves the nearest row. The first stage finds, per query, only the rows whose
 * projected distance is within an exact upper bound (a k-d tree and a WebAssembly kernel,
 * `treeStage`); the queries it leaves open are ranked over every row by a dense Gemm + TopK
 * (`projectedStage`), then by wider ones; those whose proof still does not close go to the
 * full-dimension Gemm's candidates, with the same walk, and the rare ones still open are scanned
 * row by row. The answer therefore always equals `nearestRowsReference`.
 *
 * Rounding: the bounds are loosened by worst-case float32 error bounds (Higham's γ_n = n·u/(1 − n·u)
 * per dot product of length n), orders of magnitude above the errors seen, so a float32 key never
 * prunes a row that the exact bound would keep.
 */
import {
  gemmTopK,
  projectedTopK,
  projectCoordinates,
  projectRows,
  bankTensors,
  privateRows,
  projectionTensors,
  DEFAULT_THREADS,
  type BankTensors,
  type ProjectionTensors,
  type TopKResult,
} from '../kernels/ort.js';
import { appError } from '../../common/errors.js';
import { exactKernel, type ExactKernel } from '../kernels/exact.js';
import { ThreadLane } from '../kernels/thread-lane.js';
import {
  candidateTree,
  excludeSource,
  loadQuery,
  nearestInLeaf,
  treeCandidates,
  TREE_MIN_DIMS,
  type CandidateTree,
} from '../kernels/candidates.js';
import { principalSubspace } from '../kernels/linalg.js';
import { maskExcluded, queriesPerRun } from './gemm.js';
import { exactDist2, exactDist2Below, nearestRowScan } from './search-reference.js';
import { squaredNorms } from '../coreset/metric.js';
import type { NearestResult, SearchBank, SearchOptions, SearchStats } from './types.js';

const U = 2 ** -24;
const gamma = (n: number): number => (n * U) / (1 - n * U);

const SUBSPACE_ITERATIONS = 4;
/**
 * Each further projected stage takes this many times the candidates of the one before, for the
 * queries it left open; TopK's cost grows with k, so the first stage stays narrow.
 */
const STAGE_GROWTH = 8;
/** Projected stages before the full-dimension stage. */
const STAGES = 2;
/** Share of queries left open by the first stage above which the wider projected stages are skipped. */
const MOSTLY_OPEN = 0.5;
/** Candidates per query of the full-dimension stage. */
const FULL_CANDIDATES = 32;
/** Bank rows copied per run of the full-dimension stage (onnxruntime cannot read shared memory). */
const FULL_ROWS = 1024;
/** Rows per projection run while preparing the bank. */
const PROJECT_ROWS = 8192;
/** Candidates the tree stage may return for one query; a query with more goes to the dense stages. */
const TREE_CAP = 4096;
/** Queries per lane below which another lane (a message each way) costs more than it saves. */
const MIN_LANE_QUERIES = 128;

export interface FastIndexOptions {
  threads?: number;
  projectionDim?: number;
  candidates?: number;
  seed?: number;
  tree?: boolean;
  /** Most threads that run the tree stage side by side (default 1); see `SearcherOptions.lanes`. */
  lanes?: number;
  /** The centre and basis of this index (`SearcherOptions.similar`). */
  similar?: FastIndexData;
}

export interface FastIndex {
  bank: SearchBank;
  data: FastIndexData;
  /** Squared row norms for the full-dimension stage, made when it first runs. */
  norm2: Float32Array | null;
  proj: ProjectionTensors;
  /** The projected rows as onnxruntime's input for the dense stages, made when they first run. */
  aug: BankTensors | null;
  augNorm2: Float32Array;
  maxAugNorm2: number;
  candidates: number;
  threads: number;
  stats: SearchStats;
  /** The first stage's tree over the projected rows (null for indexes of fewer than `TREE_MIN_DIMS` dims). */
  tree: CandidateTree | null;
  /** Exact distances in the bank's WebAssembly memory (null: the bank has none, or no slot was free). */
  exact: ExactKernel | null;
  /** Most lanes of the tree stage, this thread's included. */
  maxLanes: number;
  /** The other lanes' threads, started when a search first uses them. */
  lanes: ThreadLane<TreeLaneRequest, TreeLaneAnswer>[];
}

/** What a lane of the tree stage is started with: the bank and index data, in shared memory. */
export interface TreeLaneSetup {
  bank: SearchBank;
  data: FastIndexData;
}

export interface TreeLaneRequest {
  queries: Float32Array;
  /** The queries' coordinates P(q − μ), nq × pdim. */
  coordinates: Float32Array;
  nq: number;
  opts: SearchOptions;
}

export interface TreeLaneAnswer extends NearestResult {
  /** Queries of the range (from 0) whose proof stayed open. */
  open: Int32Array;
}

/**
 * What a fast index is made of, as plain arrays: the centre, the basis (pdim × dim) and every
 * row's augmented projection with its squared norm. Computing it costs seconds on a real bank;
 * it can be made once and handed to other threads (`fastIndexFrom`), in shared memory too.
 */
export interface FastIndexData {
  pdim: number;
  mu: Float32Array;
  basis: Float32Array;
  aug: Float32Array;
  augNorm2: Float32Array;
}

export async function fastIndexData(bank: SearchBank, opts: FastIndexOptions = {}): Promise<FastIndexData> {
  const { rows, dim } = bank;
  const threads = opts.threads ?? DEFAULT_THREADS;
  const similar = opts.similar && opts.similar.mu.length === dim ? opts.similar : null;
  const pdim = similar ? similar.pdim : Math.max(1, Math.min(opts.projectionDim ?? 128, dim - 1));
  const sub = similar
    ? { mean: similar.mu, basis: similar.basis }
    : await principalSubspace(bank.features, rows, dim, pdim, { seed: opts.seed ?? 0, iterations: SUBSPACE_ITERATIONS, threads });
  const mu = Float32Array.from(sub.mean);
  const basis = Float32Array.from(sub.basis);
  const proj = projectionTensors(mu, basis, dim, pdim);
  const adim = pdim + 1;
  const aug = new Float32Array(rows * adim);
  const augNorm2 = new Float32Array(rows);
  for (let r0 = 0; r0 < rows; r0 += PROJECT_ROWS) {
    const n = Math.min(PROJECT_ROWS, rows - r0);
    const part = await projectRows(proj, privateRows(bank.features, r0 * dim, (r0 + n) * dim), n, threads);
    aug.set(part.aug, r0 * adim);
    augNorm2.set(part.norm2, r0);
  }
  return { pdim, mu, basis, aug, augNorm2 };
}

/** The index over `bank` from its data (made here or in another thread); private copies of shared arrays. */
export function fastIndexFrom(bank: SearchBank, data: FastIndexData, opts: FastIndexOptions = {}): FastIndex {
  const { rows, dim } = bank;
  const { pdim } = data;
  if (
    data.mu.length !== dim ||
    data.basis.length !== pdim * dim ||
    data.aug.length !== rows * (pdim + 1) ||
    data.augNorm2.length !== rows
  ) {
    throw appError('ENGINE_INPUT', [
      `fast index data of ${data.augNorm2.length} rows × ${pdim} dims does not fit a bank of ${rows} × ${dim}`,
    ]);
  }
  const augNorm2 = privateRows(data.augNorm2);
  let maxAugNorm2 = 0;
  for (let r = 0; r < rows; r++) maxAugNorm2 = Math.max(maxAugNorm2, augNorm2[r]);
  return {
    bank,
    data,
    norm2: null,
    proj: projectionTensors(privateRows(data.mu), privateRows(data.basis), dim, pdim),
    aug: null,
    augNorm2,
    maxAugNorm2,
    candidates: Math.max(1, Math.min(opts.candidates ?? 32, rows)),
    threads: opts.threads ?? DEFAULT_THREADS,
    stats: { queries: 0, projected: 0, secondStage: 0, scanned: 0, inLanes: 0 },
    tree: opts.tree !== false && pdim + 1 >= TREE_MIN_DIMS ? candidateTree(data.aug, rows, pdim + 1, TREE_CAP) : null,
    exact: bank.memory ? exactKernel(bank.memory, bank.features, dim) : null,
    maxLanes: Math.max(1, Math.floor(opts.lanes ?? 1)),
    lanes: [],
  };
}

/** Stops the index's lanes (their threads) and gives its kernel's query slot back; the index is not used again. */
export async function closeFastIndex(index: FastIndex): Promise<void> {
  index.maxLanes = 1;
  index.exact?.release();
  index.exact = null;
  await Promise.all(index.lanes.splice(0).map((l) => l.close()));
}

/**
 * Exact distances (`exactDist2Below`) from query `q` of `queries` to bank rows, under a limit:
 * in the bank's WebAssembly memory when it has one (the same bits), until the next call.
 */
function distancesFrom(index: FastIndex, queries: Float32Array, q: number): (row: number, limit: number) => number {
  const { features, dim } = index.bank;
  const exact = index.exact;
  if (exact) {
    exact.setQuery(queries, q * dim);
    return exact.dist2Below;
  }
  return (row, limit) => exactDist2Below(queries, q * dim, features, row * dim, dim, limit);
}

export async function prepareFastIndex(bank: SearchBank, opts: FastIndexOptions = {}): Promise<FastIndex> {
  return fastIndexFrom(bank, await fastIndexData(bank, opts), opts);
}

/** The search's order: smaller distance, then lower row (`nearestRowScan`'s tie rule). */
function closer(d: number, row: number, best: number, bestRow: number): boolean {
  return d < best || (d === best && row < bestRow);
}

/**
 * Walks query `q`'s `k` candidates (keys ascending, from `keys` at `off`) computing exact
 * distances; stops at the first key whose lower bound exceeds the best distance, since every later
 * candidate and every row outside the list has a key at least as large. Writes slot `slot` of
 * `out` and returns true when that proof closed (or the list held every row), false otherwise.
 */
function rerank(
  index: FastIndex,
  queries: Float32Array,
  q: number,
  keys: TopKResult,
  off: number,
  k: number,
  lowerBound: (key: number) => number,
  out: NearestResult,
  slot: number,
): boolean {
  const { bank } = index;
  const distance = distancesFrom(index, queries, q);
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
    // A row already farther than the best needs no more of its dimensions.
    const d = distance(row, best);
    if (closer(d, row, best, bestRow)) {
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

/**
 * Bound on ‖q̃' − q'‖ + ‖b̃' − b'‖, the error of the computed augmented vectors of a query with
 * ‖q'‖² = qn2 and of any row: the projection, the residual and its norm, relative to the norms.
 */
function augSlack(index: FastIndex, qn2: number): number {
  return augRelError(index) * (Math.sqrt(qn2) + Math.sqrt(index.maxAugNorm2));
}

/** Error of an augmented vector computed in the graph (`projectRows`), relative to its norm. */
function augRelError(index: FastIndex): number {
  const { pdim, dim } = index.proj;
  return 1.01 * (2 * Math.sqrt(pdim + 1) * gamma(dim + 2) + Math.sqrt(dim) * gamma(pdim + 1) + 2 * gamma(dim));
}

/** The tree stage's queries in the index's space: augmented vectors, their squared norms and error bounds. */
export interface ProjectedQueries {
  aug: Float32Array;
  norm2: Float64Array;
  error: Float64Array;
}

/**
 * The tree stage's augmented queries [P(q − μ); r] of the first `nq` queries, from their
 * coordinates y = P(q − μ) (`projectCoordinates`, one product): r, the norm of the residual
 * (I − PᵀP)(q − μ), is √(‖q − μ‖² − ‖P(q − μ)‖²) in float64 instead of a second product.
 * `error[q]` bounds ‖q̃' − q'‖ for v = q − μ: e·‖v‖ for P(v) (the product's γ bound and the
 * basis' float32 rounding, e = 1.01·√pdim·(γ(D + 2) + u)); the two squared norms are then within
 * δ = ((2 + e)·e + 4D·2⁻⁵³)·‖v‖² of the true ones, so |r̃ − r| ≤ min(√δ, δ / (r̃ + √(r̃² − δ)));
 * and r's float32 rounding, u·r̃.
 */
export function augmentQueries(index: FastIndex, queries: Float32Array, y: Float32Array, nq: number): ProjectedQueries {
  const { dim, pdim } = index.proj;
  const mu = index.data.mu;
  const adim = pdim + 1;
  const aug = new Float32Array(nq * adim);
  const norm2 = new Float64Array(nq);
  const error = new Float64Array(nq);
  const e = 1.01 * Math.sqrt(pdim) * (gamma(dim + 2) + U);
  const rel = (2 + e) * e + 4 * dim * 2 ** -53;
  for (let q = 0; q < nq; q++) {
    // ‖q − μ‖² in float64 (each term within 2⁻⁵³ of exact, inside δ).
    const v2 = exactDist2(queries, q * dim, mu, 0, dim);
    let y2 = 0;
    for (let i = 0; i < pdim; i++) {
      const c = y[q * pdim + i];
      aug[q * adim + i] = c;
      y2 += c * c;
    }
    const r = Math.sqrt(Math.max(0, v2 - y2));
    const stored = Math.fround(r);
    aug[q * adim + pdim] = stored;
    norm2[q] = y2 + stored * stored;
    const d = rel * v2;
    const dr = d === 0 ? 0 : Math.min(Math.sqrt(d), d / (r + Math.sqrt(Math.max(0, r * r - d))));
    error[q] = e * Math.sqrt(v2) + dr + U * r;
  }
  return { aug, norm2, error };
}

/** Lower bound on ‖q − b‖² from a projected key `‖b'‖² − 2q'·b'`, for a query with ‖q'‖² = qn2. */
function projectedBound(index: FastIndex, qn2: number): (key: number) => number {
  const { pdim } = index.proj;
  // Key and norms come from float32 dot products of length pdim + 1 (the norms too, in the graph).
  const gemmTol = (2 * gamma(pdim + 1) + 3 * U) * (qn2 + index.maxAugNorm2);
  const slack = augSlack(index, qn2);
  return (key) => {
    const root = Math.sqrt(Math.max(0, key + qn2 - gemmTol)) - slack;
    return root > 0 ? root * root : 0;
  };
}

/** Runs the projected stage with `k` candidates on the listed queries; returns those still open. */
async function projectedStage(
  index: FastIndex,
  queries: Float32Array,
  list: readonly number[],
  k: number,
  augNorm2: Float32Array,
  threads: number,
  out: NearestResult,
): Promise<number[]> {
  const { bank } = index;
  const dim = bank.dim;
  const open: number[] = [];
  const step = Math.max(1, Math.floor(queriesPerRun(bank.rows) / Math.max(1, k / 64)));
  for (let i0 = 0; i0 < list.length; i0 += step) {
    const part = list.slice(i0, i0 + step);
    const contiguous = part[part.length - 1] - part[0] === part.length - 1;
    let chunk: Float32Array;
    if (contiguous) chunk = privateRows(queries, part[0] * dim, (part[0] + part.length) * dim);
    else {
      chunk = new Float32Array(part.length * dim);
      part.forEach((q, i) => chunk.set(queries.subarray(q * dim, (q + 1) * dim), i * dim));
    }
    index.aug ??= bankTensors(index.data.aug, index.bank.rows, index.proj.pdim + 1);
    const top = await projectedTopK(index.proj, index.aug, augNorm2, chunk, part.length, k, threads);
    part.forEach((q, i) => {
      if (!rerank(index, chunk, i, top, i * k, k, projectedBound(index, top.queryNorm2[i]), out, q)) open.push(q);
    });
  }
  return open;
}

/** The row nearest by projection in the leaf a descent reaches, per query, and its exact distance. */
interface LeafSeeds {
  row: Int32Array;
  dist: Float64Array;
}

/**
 * Max-only walks (`SearchOptions.maxOnly`): every query's leaf seed first, then the queries
 * ordered by its distance, largest first, so that the largest weighted distance is proven early
 * and settles most of the others at their seed; queries without a seed last.
 */
function largestFirst(
  index: FastIndex,
  tree: CandidateTree,
  queries: Float32Array,
  aug: Float32Array,
  nq: number,
  exclude: number | null,
): { order: Int32Array; seeds: LeafSeeds } {
  const seeds: LeafSeeds = { row: new Int32Array(nq), dist: new Float64Array(nq) };
  for (let q = 0; q < nq; q++) {
    loadQuery(tree, aug, q * tree.adim);
    const s0 = nearestInLeaf(tree, exclude);
    seeds.row[q] = s0;
    seeds.dist[q] = s0 < 0 ? -1 : distancesFrom(index, queries, q)(s0, Infinity);
  }
  const order = Int32Array.from({ length: nq }, (_, q) => q).sort((a, b) => seeds.dist[b] - seeds.dist[a] || a - b);
  return { order, seeds };
}

/**
 * The first stage: per query, an upper bound u from exact distances (the row nearest by
 * projection in the leaf a descent of the tree reaches, and the nearest rows of the previous
 * query and, with `rowLength`, of the patch above, which neighbouring patches often share;
 * together they are the best row for most queries), then every row the tree finds within it
 * (kernels/candidates.ts), walked with exact distances by their projected distance until its
 * lower bound exceeds the best. A row the tree leaves out is proven farther than u: its float32
 * projected distance d̃ exceeds the limit below, d̃ ≤ (1 + γ)·d' for the distance d' of the stored
 * vectors (float32 sums of ≤ adim + 8 terms), and ‖q − b‖ ≥ √d' − (vector errors + the rest
 * norms' float32 rounding). Walks the first `nq` queries (`projected` by `augmentQueries`), in
 * order or, with `maxOnly`, largest first; returns those left open, ascending: more candidates
 * than the cap, or no row to seed from.
 *
 * With `maxOnly` a query stops at the first best row b with W·fl(d_b) ≤ A, W the largest weight
 * and A the largest fl(w·fl(d)) proven exact so far: its nearest row n has d_n ≤ d_b, so its
 * weighted distance fl(w_n·fl(d_n)) ≤ fl(W·fl(d_b)) ≤ A (rounding is monotone), and so is the one
 * this answer gives; the largest over the queries is then the exact one.
 */
export function treeWalk(
  index: FastIndex,
  tree: CandidateTree,
  queries: Float32Array,
  projected: ProjectedQueries,
  nq: number,
  opts: SearchOptions,
  out: NearestResult,
): number[] {
  const adim = tree.adim;
  const rowSlack = augRelError(index) * Math.sqrt(index.maxAugNorm2);
  const ex = opts.excludeSource;
  const exclude = ex?.image ?? null;
  excludeSource(tree, ex?.sourceImage ?? null);
  const relSum = gamma(adim + 8);
  const above = opts.rowLength ?? 0;
  const found = new Int32Array(nq).fill(-1);
  const open: number[] = [];
  const maxOnly = opts.maxOnly !== undefined;
  const weights = opts.maxOnly?.weights ?? null;
  let maxWeight = 1;
  if (weights) {
    maxWeight = 0;
    for (let r = 0; r < index.bank.rows; r++) maxWeight = Math.max(maxWeight, weights[r]);
  }
  let largest = 0;
  const settled = (d: number): boolean => maxOnly && maxWeight * Math.fround(d) <= largest;
  const first = maxOnly ? largestFirst(index, tree, queries, projected.aug, nq, exclude) : null;
  for (let i = 0; i < nq; i++) {
    const q = first ? first.order[i] : i;
    let best = Infinity;
    let bestRow = -1;
    // The seeds (−1: none); each row's exact distance is computed once.
    let s0 = -1;
    if (first) {
      s0 = first.seeds.row[q];
      if (s0 >= 0) {
        best = first.seeds.dist[q];
        bestRow = s0;
      }
      if (bestRow >= 0 && settled(best)) {
        out.index[q] = bestRow;
        out.dist2[q] = best;
        found[q] = bestRow;
        continue;
      }
    }
    const distance = distancesFrom(index, queries, q);
    const consider = (row: number): void => {
      const d = distance(row, best);
      if (closer(d, row, best, bestRow)) {
        best = d;
        bestRow = row;
      }
    };
    loadQuery(tree, projected.aug, q * adim);
    if (!first) {
      s0 = nearestInLeaf(tree, exclude);
      if (s0 >= 0) consider(s0);
    }
    const s1 = q > 0 && found[q - 1] !== s0 ? found[q - 1] : -1;
    const s2 = above > 0 && q >= above && found[q - above] !== s0 && found[q - above] !== s1 ? found[q - above] : -1;
    for (const row of [s1, s2]) if (row >= 0) consider(row);
    if (bestRow < 0) {
      open.push(q);
      continue;
    }
    if (!settled(best)) {
      const qn2 = projected.norm2[q];
      const slack = projected.error[q] + rowSlack + 2.02 * U * (Math.sqrt(qn2) + Math.sqrt(index.maxAugNorm2));
      // Rounded up into float32 for the kernel.
      const limit = (1 + relSum) * (Math.sqrt(best) + slack) ** 2 * (1 + 4 * U);
      const c = treeCandidates(tree, limit, exclude);
      if (c === null) {
        open.push(q);
        continue;
      }
      // Rows at equal distances share their bound, so their order cannot change the answer.
      let proven = true;
      for (let j = 0; j < c.count; j++) {
        const root = Math.sqrt(c.dist[j] / (1 + relSum)) - slack;
        if (root > 0 && root * root > best) break;
        if (settled(best)) {
          proven = false;
          break;
        }
        const row = c.rows[j];
        if (row !== s0 && row !== s1 && row !== s2) consider(row);
      }
      if (maxOnly && proven) largest = Math.max(largest, Math.fround((weights ? weights[bestRow] : 1) * Math.fround(best)));
    }
    out.index[q] = bestRow;
    out.dist2[q] = best;
    found[q] = bestRow;
  }
  // The dense stages read the open queries in ascending runs.
  return first ? open.sort((a, b) => a - b) : open;
}

const isShared = (a: ArrayBufferView): boolean => a.buffer instanceof SharedArrayBuffer;

/**
 * The tree stage: the queries projected here (on `threads`), then augmented and walked on up to
 * `threads` lanes, in contiguous ranges of queries (whole rows of patches, so the seeds from the
 * patch above stay in a range), this thread taking the first. Each answer is the one query's
 * own, so it does not depend on the split. Lanes need the bank in shared memory.
 */
async function treeStage(
  index: FastIndex,
  tree: CandidateTree,
  queries: Float32Array,
  nq: number,
  opts: SearchOptions,
  threads: number,
  out: NearestResult,
): Promise<number[]> {
  const { bank, data } = index;
  const { dim, pdim } = index.proj;
  const y = await projectCoordinates(index.proj, privateRows(queries, 0, nq * dim), nq, threads);
  const wanted = isShared(bank.features) ? Math.min(threads, index.maxLanes, Math.floor(nq / MIN_LANE_QUERIES)) : 1;
  // A lane whose thread died failed its search; a new one takes its place.
  index.lanes = index.lanes.filter((l) => !l.failed);
  while (index.lanes.length < wanted - 1) {
    const setup: TreeLaneSetup = { bank: { features: bank.features, rows: bank.rows, dim: bank.dim, memory: bank.memory }, data };
    index.lanes.push(new ThreadLane(new URL('./tree-lane.js', import.meta.url), setup, 'search lane'));
  }
  // A lane builds its tree first (a few hundred ms): until it is ready this thread walks alone.
  const lanes = index.lanes.slice(0, wanted - 1).filter((l) => l.ready);
  const parts = 1 + lanes.length;
  if (parts < 2) return treeWalk(index, tree, queries, augmentQueries(index, queries, y, nq), nq, opts, out);
  const row = Math.max(1, opts.rowLength ?? 1);
  const bounds = Array.from({ length: parts + 1 }, (_, i) => (i === parts ? nq : Math.round((nq * i) / parts / row) * row));
  const remote = lanes.map(async (lane, i) => {
    const [a, b] = [bounds[i + 1], bounds[i + 2]];
    const view = queries.subarray(a * dim, b * dim);
    // A private range is copied (and moved), not the whole array it is part of.
    const range = isShared(view) ? view : view.slice();
    const coordinates = y.slice(a * pdim, b * pdim);
    const request: TreeLaneRequest = { queries: range, coordinates, nq: b - a, opts };
    const transfer = [coordinates.buffer as ArrayBuffer, ...(isShared(range) ? [] : [range.buffer as ArrayBuffer])];
    const answer = await lane.request(request, transfer);
    out.index.set(answer.index, a);
    out.dist2.set(answer.dist2, a);
    return Array.from(answer.open, (q) => q + a);
  });
  const answers = Promise.all(remote);
  // Awaited below, or dropped when this thread's own walk throws.
  answers.catch(() => undefined);
  // The lanes have their requests: this thread walks its own range meanwhile.
  const here = treeWalk(index, tree, queries, augmentQueries(index, queries, y, bounds[1]), bounds[1], opts, out);
  const open = await answers;
  index.stats.inLanes += nq - bounds[1];
  return [here, ...open].flat();
}

/** Lower bound on ‖q − b‖² from a full-dimension key `‖b‖² − 2q·b`, for a query with ‖q‖² = qn. */
function fullBound(dim: number, maxNorm2: number, qn: number): (key: number) => number {
  const tol = (gamma(dim) + 4 * U) * (qn + maxNorm2);
  return (key) => key + qn - tol;
}

/**
 * Full-dimension keys for the listed queries, the bank copied in blocks of `FULL_ROWS` rows (so
 * no lasting private copy), the best `FULL_CANDIDATES` per query merged over the blocks, then the
 * same walk; returns the queries still open.
 */
async function fullStage(
  index: FastIndex,
  queries: Float32Array,
  list: readonly number[],
  opts: SearchOptions,
  threads: number,
  out: NearestResult,
): Promise<number[]> {
  const { bank } = index;
  const { rows, dim } = bank;
  const n = list.length;
  const k = Math.min(FULL_CANDIDATES, rows);
  index.norm2 ??= squaredNorms(bank.features, rows, dim);
  const norm2 = maskExcluded(index.norm2, opts);
  let maxNorm2 = 0;
  for (let r = 0; r < rows; r++) maxNorm2 = Math.max(maxNorm2, index.norm2[r]);
  const sub = new Float32Array(n * dim);
  list.forEach((q, i) => sub.set(queries.subarray(q * dim, (q + 1) * dim), i * dim));
  // Per query, the best k (key, row) pairs over all blocks, kept sorted.
  const keys = new Float32Array(n * k).fill(Infinity);
  const idx = new BigInt64Array(n * k);
  const step = Math.max(1, Math.floor(queriesPerRun(FULL_ROWS)));
  for (let r0 = 0; r0 < rows; r0 += FULL_ROWS) {
    const m = Math.min(FULL_ROWS, rows - r0);
    const block = bankTensors(bank.features.subarray(r0 * dim, (r0 + m) * dim), m, dim);
    const km = Math.min(k, m);
    for (let i0 = 0; i0 < n; i0 += step) {
      const c = Math.min(step, n - i0);
      const top = await gemmTopK(block, norm2.subarray(r0, r0 + m), sub.subarray(i0 * dim, (i0 + c) * dim), c, km, threads);
      for (let i = 0; i < c; i++) {
        const o = (i0 + i) * k;
        for (let j = 0; j < km; j++) {
          const v = top.values[i * km + j];
          if (!(v < keys[o + k - 1])) break;
          // Insert into the sorted list (ties keep the lower row: earlier blocks first).
          let p = k - 1;
          while (p > 0 && keys[o + p - 1] > v) {
            keys[o + p] = keys[o + p - 1];
            idx[o + p] = idx[o + p - 1];
            p--;
          }
          keys[o + p] = v;
          idx[o + p] = top.indices[i * km + j] + BigInt(r0);
        }
      }
    }
  }
  const open: number[] = [];
  const merged = { values: keys, indices: idx };
  list.forEach((q, i) => {
    let qn = 0;
    for (let j = i * dim; j < (i + 1) * dim; j++) qn += sub[j] * sub[j];
    if (!rerank(index, sub, i, merged, i * k, k, fullBound(dim, maxNorm2, qn), out, q)) open.push(q);
  });
  return open;
}

/**
 * Exact nearest rows: the projected stage with the index's candidates, then with `STAGE_GROWTH`
 * times as many for the queries whose proof stayed open (`STAGES` stages in all), then the
 * full-dimension stage, and a scan of every row for the rare ones left. Between runs the bank's
 * features are read in JavaScript only, so they may live in shared memory.
 */
export async function fastNearest(index: FastIndex, queries: Float32Array, nq: number, opts: SearchOptions = {}): Promise<NearestResult> {
  const { bank } = index;
  const out: NearestResult = { index: new Int32Array(nq), dist2: new Float32Array(nq) };
  const augNorm2 = maskExcluded(index.augNorm2, opts);
  const threads = opts.threads ?? index.threads;
  const all = Array.from({ length: nq }, (_, q) => q);
  const first = index.tree ? await treeStage(index, index.tree, queries, nq, opts, threads, out) : all;
  const open = first.length > 0 ? await projectedStage(index, queries, first, index.candidates, augNorm2, threads, out) : first;
  let left = open;
  // When most proofs stay open the projection says little about these distances (isotropic data):
  // wider projected stages would mostly fail too, so the full-dimension stage comes next.
  const projectionHelps = open.length <= nq * MOSTLY_OPEN;
  for (let stage = 1, k = index.candidates; projectionHelps && stage < STAGES && left.length > 0 && k < bank.rows; stage++) {
    k = Math.min(k * STAGE_GROWTH, bank.rows);
    left = await projectedStage(index, queries, left, k, augNorm2, threads, out);
  }
  if (left.length > 0) left = await fullStage(index, queries, left, opts, threads, out);
  for (const q of left) nearestRowScan(bank, queries, q, out, opts);

  const s = index.stats;
  s.queries += nq;
  s.projected += nq - open.length;
  s.secondStage += open.length - left.length;
  s.scanned += left.length;
  return out;
}
