/**
 * Candidate rows for the exact search: a k-d tree over the first `LOW_DIMS` coordinates of a bank's
 * projected index, and a WebAssembly SIMD kernel (wasm/candidates.as.ts) that returns every row
 * whose float32 distance to a query's projection is at most a limit. On real features a good
 * photo's query finds a few dozen such rows under a tight limit, where the dense projected stage
 * computes all of them; each tree holds its own copy of the index in its module's memory.
 */
import { appError } from '../../common/errors.js';
import { instantiate, kernelModule, regions } from './wasm-kernel.js';

/** Coordinates of the tree's boxes. */
const LOW_DIMS = 8;
/** Coordinates of the rows' first test in the kernel, with the norm of the others. */
const BLOCK_DIMS = 16;
const BLOCK_VALUES = BLOCK_DIMS + 1;
/** Coordinates a tree's rows need: the first test reads BLOCK_DIMS and the norm of the rest. */
export const TREE_MIN_DIMS = BLOCK_VALUES;
const LEAF_ROWS = 32;
const STACK_BYTES = 4096;
/** Largest cap: a candidate's sort key, distance bits · cap + position, stays exact in float64. */
const MAX_CAP = 2 ** 21;
/** No row comes from this image. */
const NO_IMAGE = -(2 ** 31);
/** Padding rows: every float32 difference with them overflows to Infinity, above any limit. */
const FAR = 3.4e38;

const wasm = kernelModule('candidates');

/** The kernel's exports (wasm/candidates.as.ts): the layout is set once, the calls carry a query's values. */
interface KernelExports {
  layout(
    nodes: number,
    boxes: number,
    stack: number,
    blocks: number,
    full: number,
    stride: number,
    source: number,
    query: number,
    qlow: number,
    outRows: number,
    outDist: number,
  ): void;
  candidates(t: number, exclude: number, cap: number): number;
  nearestInLeaf(exclude: number): number;
}

export interface CandidateTree {
  rows: number;
  /** Coordinates per row. */
  adim: number;
  /** Tree position → row. */
  order: Int32Array;
  /** The largest number of candidates one query may return. */
  cap: number;
  kernel: KernelExports;
  f32: Float32Array;
  i32: Int32Array;
  /** Byte offsets in the module's memory. */
  at: {
    nodes: number;
    boxes: number;
    stack: number;
    blocks: number;
    full: number;
    source: number;
    query: number;
    qlow: number;
    outRows: number;
    outDist: number;
  };
  stride: number;
  /** The source array whose rows `source` holds (null: none, nothing excluded). */
  sourceOf: Int32Array | null;
  /** `treeCandidates`' answer, `cap` long and reused by every call (no allocation per query). */
  sorted: { keys: Float64Array; rows: Int32Array; dist: Float32Array };
}

/** The tree over `rows` rows of `adim` coordinates (`aug`, row-major). */
export function candidateTree(aug: Float32Array, rows: number, adim: number, cap: number): CandidateTree {
  if (cap > MAX_CAP) throw appError('INTERNAL', [`candidate cap ${cap} above ${MAX_CAP}`]);
  const order = Int32Array.from({ length: rows }, (_, i) => i);
  const nodes: Array<{ lo: number; hi: number; left: number; right: number; min: Float32Array; max: Float32Array }> = [];
  const build = (lo: number, hi: number): number => {
    const min = new Float32Array(LOW_DIMS).fill(Infinity);
    const max = new Float32Array(LOW_DIMS).fill(-Infinity);
    for (let i = lo; i < hi; i++) {
      const o = order[i] * adim;
      for (let d = 0; d < LOW_DIMS; d++) {
        const v = aug[o + d];
        if (v < min[d]) min[d] = v;
        if (v > max[d]) max[d] = v;
      }
    }
    const id = nodes.length;
    nodes.push({ lo, hi, left: -1, right: -1, min, max });
    if (hi - lo > LEAF_ROWS) {
      let split = 0;
      for (let d = 1; d < LOW_DIMS; d++) if (max[d] - min[d] > max[split] - min[split]) split = d;
      const sorted = Array.from(order.subarray(lo, hi)).sort((a, b) => aug[a * adim + split] - aug[b * adim + split] || a - b);
      order.set(sorted, lo);
      // Children begin at multiples of four: the kernel tests rows four at a time.
      const mid = lo + 4 * Math.floor((hi - lo) / 8);
      nodes[id].left = build(lo, mid);
      nodes[id].right = build(mid, hi);
    }
    return id;
  };
  build(0, rows);

  const stride = Math.ceil(adim / 4) * 4;
  const blocks = Math.ceil(rows / 4);
  const space = regions();
  const take = space.take;
  const at = {
    nodes: take(nodes.length * 16),
    boxes: take(nodes.length * 4 * 2 * LOW_DIMS),
    stack: take(STACK_BYTES),
    blocks: take(blocks * BLOCK_VALUES * 16),
    full: take(rows * stride * 4),
    source: take(rows * 4),
    query: take(stride * 4),
    qlow: take(BLOCK_VALUES * 4),
    outRows: take(cap * 4),
    outDist: take(cap * 4),
  };
  const { exports: kernel, memory } = instantiate<KernelExports>(wasm, space.bytes, 'candidate');
  kernel.layout(at.nodes, at.boxes, at.stack, at.blocks, at.full, stride, at.source, at.query, at.qlow, at.outRows, at.outDist);
  const f32 = new Float32Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);
  nodes.forEach((n, k) => {
    i32.set([n.lo, n.hi, n.left, n.right], at.nodes / 4 + k * 4);
    f32.set(n.min, at.boxes / 4 + k * 2 * LOW_DIMS);
    f32.set(n.max, at.boxes / 4 + k * 2 * LOW_DIMS + LOW_DIMS);
  });
  f32.fill(FAR, at.blocks / 4, at.blocks / 4 + blocks * BLOCK_VALUES * 4);
  for (let i = 0; i < rows; i++) {
    const o = order[i] * adim;
    const block = at.blocks / 4 + (i >> 2) * BLOCK_VALUES * 4 + (i & 3);
    for (let d = 0; d < BLOCK_DIMS; d++) f32[block + d * 4] = aug[o + d];
    f32[block + BLOCK_DIMS * 4] = restNorm(aug, o, adim);
    f32.set(aug.subarray(o, o + adim), at.full / 4 + i * stride);
  }
  return {
    rows,
    adim,
    order,
    cap,
    kernel,
    f32,
    i32,
    at,
    stride,
    sourceOf: null,
    sorted: { keys: new Float64Array(cap), rows: new Int32Array(cap), dist: new Float32Array(cap) },
  };
}

/** ‖x[BLOCK_DIMS ..]‖ of the row at `o`, summed in float64. */
function restNorm(x: Float32Array, o: number, adim: number): number {
  let s = 0;
  for (let d = BLOCK_DIMS; d < adim; d++) s += x[o + d] * x[o + d];
  return Math.sqrt(s);
}

/** Rows of `image` by `sourceImage` (bank rows) are left out of the next calls; null: none. */
export function excludeSource(tree: CandidateTree, sourceImage: Int32Array | null): void {
  if (sourceImage === tree.sourceOf || sourceImage === null) return;
  const base = tree.at.source / 4;
  for (let i = 0; i < tree.rows; i++) tree.i32[base + i] = sourceImage[tree.order[i]];
  tree.sourceOf = sourceImage;
}

export interface Candidates {
  count: number;
  /**
   * Rows (bank order) and their float32 projected squared distances, the first `count` of each,
   * nearest first; the arrays are the tree's own, overwritten by its next call.
   */
  rows: Int32Array;
  dist: Float32Array;
}

/** Makes `query[qOff ..]` (`adim` values) the query of the next `nearestInLeaf` and `treeCandidates` calls. */
export function loadQuery(tree: CandidateTree, query: Float32Array, qOff: number): void {
  const { f32, at, adim, stride } = tree;
  f32.set(query.subarray(qOff, qOff + adim), at.query / 4);
  f32.fill(0, at.query / 4 + adim, at.query / 4 + stride);
  f32.set(query.subarray(qOff, qOff + BLOCK_DIMS), at.qlow / 4);
  f32[at.qlow / 4 + BLOCK_DIMS] = restNorm(query, qOff, adim);
}

/** The image whose rows the kernel leaves out: `NO_IMAGE` without one or before `excludeSource`. */
const kernelImage = (tree: CandidateTree, image: number | null): number => (image === null || tree.sourceOf === null ? NO_IMAGE : image);

/**
 * The row (bank order) nearest to the loaded query by float32 projected distance among the rows
 * of the leaf a descent towards the nearer box reaches, leaving out the rows of `image`; −1 when
 * that leaf holds none of the others.
 */
export function nearestInLeaf(tree: CandidateTree, image: number | null): number {
  const r = tree.kernel.nearestInLeaf(kernelImage(tree, image));
  return r < 0 ? -1 : tree.order[r];
}

/**
 * Every row whose float32 squared distance to the loaded query is at most `limit`, leaving out
 * the rows of `image` (set by `excludeSource`; null: none), nearest first (equal distances in the
 * kernel's order); null when there are more than `tree.cap`.
 */
export function treeCandidates(tree: CandidateTree, limit: number, image: number | null): Candidates | null {
  const { f32, i32, at } = tree;
  const count = tree.kernel.candidates(limit, kernelImage(tree, image), tree.cap);
  if (count < 0) return null;
  // A non-negative float32's bits order as its value does, so one native sort of
  // bits · cap + position (exact in float64: below 2^31 · 2^21) orders the candidates.
  const { keys, rows, dist } = tree.sorted;
  const bits = at.outDist / 4;
  for (let i = 0; i < count; i++) keys[i] = i32[bits + i] * tree.cap + i;
  keys.subarray(0, count).sort();
  for (let k = 0; k < count; k++) {
    const i = keys[k] % tree.cap;
    rows[k] = tree.order[i32[at.outRows / 4 + i]];
    dist[k] = f32[at.outDist / 4 + i];
  }
  return { count, rows, dist };
}
