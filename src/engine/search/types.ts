/** Shapes shared by the nearest-row searchers (spec §6 step 2). */
import type { FastIndexData } from './fast.js';

export type { FastIndexData };

/** The part of a bank that search needs: `rows` × `dim` float32 features, row-major. */
export interface SearchBank {
  features: Float32Array;
  rows: number;
  dim: number;
  /**
   * The shared WebAssembly memory `features` is a view of (`kernels/exact.ts` `sharedRows`): the
   * fast searcher then computes exact distances in WebAssembly, with the same bits.
   */
  memory?: WebAssembly.Memory;
}

/** Rows whose source image is `image` are skipped (leave-one-image-out calibration). */
export interface SourceExclusion {
  sourceImage: Int32Array;
  image: number;
}

export interface SearchOptions {
  excludeSource?: SourceExclusion;
  /** onnxruntime intra-op threads for this call (default: the searcher's); answers do not depend on it. */
  threads?: number;
  /**
   * The queries are an image's patches, row-major, this many per row: the fast searcher then
   * seeds each query with the nearest row of the patch above too. Answers do not depend on it.
   */
  rowLength?: number;
  /**
   * The caller needs only the largest weighted distance over the queries, max_q w[index_q]·dist2_q
   * (as `weightedScores` rounds it; `weights` null: all 1). The fast searcher's tree stage then
   * answers a query with the first row that proves its weighted distance cannot exceed the largest
   * one it has proven exact so far (walking the queries by their first upper bound, largest first).
   * That maximum is exact; the other answers are rows within it, not the nearest.
   */
  maxOnly?: { weights: Float32Array | null };
}

/** Per query: the nearest row (-1 when every row is excluded) and its squared distance (Infinity then). */
export interface NearestResult {
  index: Int32Array;
  dist2: Float32Array;
}

/**
 * `fast`: projected lower-bound candidates with exact re-ranking (search-fast.ts); `gemm`: one
 * float32 GEMM with the argmin in the graph (search-gemm.ts); `reference`: the plain loop.
 */
export type SearcherKind = 'fast' | 'gemm' | 'reference';

export interface SearcherOptions {
  kind?: SearcherKind;
  /** onnxruntime intra-op threads (default 2). */
  threads?: number;
  /** fast: dimension of the projected candidate space (default 128). */
  projectionDim?: number;
  /** fast: candidates per query in the first projected stage (default 32). */
  candidates?: number;
  /** fast: seed of the projection's subspace iteration (default 0; changes speed, never results). */
  seed?: number;
  /** fast: an index made earlier for this bank (`Searcher.indexData()`, maybe in another thread). */
  prepared?: FastIndexData;
  /**
   * fast: the index of a bank much like this one (the same build's bank chosen again): its centre
   * and basis are used instead of computing this bank's principal subspace (they steer speed only).
   */
  similar?: FastIndexData;
  /** fast: the tree first stage (default true); false leaves the dense projected stages alone. */
  tree?: boolean;
  /**
   * fast: most threads that run the tree stage side by side (default 1), up to a call's `threads`.
   * Each lane past the first is a worker thread with its own tree over the same bank (which must
   * live in shared memory; otherwise one lane). Answers do not depend on it.
   */
  lanes?: number;
}

/** How the fast searcher's answers were proven, counted over its lifetime. */
export interface SearchStats {
  queries: number;
  /** proven exact by the first stage (the tree's or the dense projected candidates) */
  projected: number;
  /** needed a later stage (fast: the wider projected candidates; gemm: every query) */
  secondStage: number;
  /** needed a scan of every row */
  scanned: number;
  /** fast: had their tree stage run in another lane (thread) */
  inLanes: number;
}

/** A search structure built once per loaded bank and reused for every query batch. */
export interface Searcher {
  readonly kind: SearcherKind;
  readonly rows: number;
  readonly dim: number;
  nearest(queries: Float32Array, nq: number, opts?: SearchOptions): Promise<NearestResult>;
  stats(): SearchStats;
  /** fast: the index's arrays, to hand to another thread's searcher over the same bank; else null. */
  indexData(): FastIndexData | null;
  /** Drops the searcher's tensors; later calls fail. Sessions are shared and stay cached. */
  release(): void;
}
