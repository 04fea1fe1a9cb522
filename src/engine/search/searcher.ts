/**
 * Nearest memory row per query (spec §6 step 2). `createSearcher` builds the per-bank structure
 * once (the service keeps one per loaded bank); the plain functions cache one per bank array.
 *
 * - `nearestRowsReference`: float64 loop over every row (search-reference.ts).
 * - `nearestRowsGemm`: one float32 Gemm + TopK(1) in onnxruntime (search-gemm.ts), the baseline.
 * - `nearestRows`: projected candidates + exact re-ranking (fast.ts), same answers as the
 *   reference; on real features 3–4× faster than the Gemm on a good photo, less on strongly
 *   anomalous ones.
 */
import { appError } from '../../common/errors.js';
import { closeFastIndex, fastIndexFrom, fastNearest, prepareFastIndex, type FastIndexData } from './fast.js';
import { gemmNearest, prepareGemmIndex } from './gemm.js';
import { nearestRowsReference } from './search-reference.js';
import type { NearestResult, SearchBank, SearchOptions, Searcher, SearcherKind, SearcherOptions, SearchStats } from './types.js';

function checkBank(bank: SearchBank): void {
  if (!(bank.rows > 0 && bank.dim > 0 && bank.features.length === bank.rows * bank.dim)) {
    throw appError('ENGINE_INPUT', [`bank of ${bank.features.length} floats is not ${bank.rows} rows × ${bank.dim} dims`]);
  }
}

function checkQueries(bank: SearchBank, queries: Float32Array, nq: number, opts: SearchOptions): void {
  if (!(Number.isInteger(nq) && nq >= 0 && queries.length >= nq * bank.dim)) {
    throw appError('ENGINE_INPUT', [`${queries.length} query floats cannot hold ${nq} queries of ${bank.dim} dims`]);
  }
  if (opts.excludeSource !== undefined && opts.excludeSource.sourceImage.length !== bank.rows) {
    throw appError('ENGINE_INPUT', [`sourceImage has ${opts.excludeSource.sourceImage.length} entries for ${bank.rows} rows`]);
  }
}

/** What a searcher kind does with queries, and its counters. */
interface SearchImpl {
  run(queries: Float32Array, nq: number, opts: SearchOptions): Promise<NearestResult>;
  stats(): SearchStats;
  data: FastIndexData | null;
  /** Stops what the searcher started (the fast index's lanes). */
  close?(): void;
}

async function searchImpl(bank: SearchBank, kind: SearcherKind, opts: SearcherOptions): Promise<SearchImpl> {
  if (kind === 'fast') {
    const index = opts.prepared ? fastIndexFrom(bank, opts.prepared, opts) : await prepareFastIndex(bank, opts);
    return {
      run: (queries, nq, o) => fastNearest(index, queries, nq, o),
      stats: () => ({ ...index.stats }),
      data: index.data,
      close: () => void closeFastIndex(index),
    };
  }
  const counts: SearchStats = { queries: 0, projected: 0, secondStage: 0, scanned: 0, inLanes: 0 };
  const stats = (): SearchStats => ({ ...counts });
  if (kind === 'gemm') {
    const index = prepareGemmIndex(bank, opts.threads);
    return {
      run: (queries, nq, o) => {
        counts.queries += nq;
        counts.secondStage += nq;
        return gemmNearest(index, queries, nq, o);
      },
      stats,
      data: null,
    };
  }
  return {
    run: async (queries, nq, o) => {
      counts.queries += nq;
      counts.scanned += nq;
      return nearestRowsReference(bank, queries, nq, o);
    },
    stats,
    data: null,
  };
}

export async function createSearcher(bank: SearchBank, opts: SearcherOptions = {}): Promise<Searcher> {
  checkBank(bank);
  const kind: SearcherKind = opts.kind ?? 'fast';
  let impl: SearchImpl | null = await searchImpl(bank, kind, opts);
  let finalStats: SearchStats | null = null;
  return {
    kind,
    rows: bank.rows,
    dim: bank.dim,
    async nearest(queries, nq, o = {}) {
      if (impl === null) throw appError('INTERNAL', ['searcher used after release']);
      checkQueries(bank, queries, nq, o);
      return impl.run(queries, nq, o);
    },
    stats: () => impl?.stats() ?? (finalStats as SearchStats),
    indexData: () => impl?.data ?? null,
    release() {
      if (impl === null) return;
      finalStats = impl.stats();
      impl.close?.();
      // Drops the index and its tensors.
      impl = null;
    },
  };
}

/** Searchers kept per bank array (weakly: they go with the bank), per kind and thread count. */
const cache = new WeakMap<Float32Array, Map<string, Promise<Searcher>>>();

/**
 * The searcher for `bank` with these options, built on first use and shared (banks are
 * immutable); callers must not release it.
 */
export function cachedSearcher(bank: SearchBank, opts: SearcherOptions = {}): Promise<Searcher> {
  let perBank = cache.get(bank.features);
  if (perBank === undefined) {
    perBank = new Map();
    cache.set(bank.features, perBank);
  }
  // A prepared index does not change the searcher, only how fast it is made.
  const { kind = 'fast', threads, projectionDim, candidates, seed, tree, lanes } = opts;
  const key = JSON.stringify([kind, threads, projectionDim, candidates, seed, tree, lanes, bank.rows, bank.dim]);
  let s = perBank.get(key);
  if (s === undefined) {
    const created = createSearcher(bank, opts);
    created.catch(() => perBank.delete(key));
    perBank.set(key, created);
    s = created;
  }
  return s;
}

export type PlainSearchOptions = SearchOptions & { threads?: number; lanes?: number };

export async function nearestRowsGemm(
  bank: SearchBank,
  queries: Float32Array,
  nq: number,
  opts: PlainSearchOptions = {},
): Promise<NearestResult> {
  const searcher = await cachedSearcher(bank, { kind: 'gemm', threads: opts.threads });
  return searcher.nearest(queries, nq, opts);
}

export async function nearestRows(
  bank: SearchBank,
  queries: Float32Array,
  nq: number,
  opts: PlainSearchOptions = {},
): Promise<NearestResult> {
  const searcher = await cachedSearcher(bank, { kind: 'fast', threads: opts.threads, lanes: opts.lanes });
  return searcher.nearest(queries, nq, opts);
}
