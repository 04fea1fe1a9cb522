/**
 * Nearest memory row per query (spec §6 step 2). `createSearcher` builds the per-bank structure
 * once (the service keeps one per loaded bank); the plain functions cache one per bank array.
 *
 * - `nearestRowsReference`: float64 loop over every row (search-reference.ts).
 * - `nearestRowsGemm`: one float32 Gemm + TopK(1) in onnxruntime (search-gemm.ts), the baseline.
 * - `nearestRows`: projected candidates + exact re-ranking (search-fast.ts), same answers as the
 *   reference, several times faster than the Gemm.
 */
import { appError } from '../common/errors.js';
import { fastNearest, prepareFastIndex } from './search-fast.js';
import { gemmNearest, prepareGemmIndex } from './search-gemm.js';
import { nearestRowsReference } from './search-reference.js';
import type { NearestResult, SearchBank, SearchOptions, Searcher, SearcherKind, SearcherOptions, SearchStats } from './search-types.js';

export { nearestRowsReference } from './search-reference.js';
export type { NearestResult, SearchBank, SearchOptions, Searcher, SearcherKind, SearcherOptions, SearchStats, SourceExclusion } from './search-types.js';

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

export async function createSearcher(bank: SearchBank, opts: SearcherOptions = {}): Promise<Searcher> {
  checkBank(bank);
  const kind: SearcherKind = opts.kind ?? 'fast';
  let run: (queries: Float32Array, nq: number, o: SearchOptions) => Promise<NearestResult>;
  let stats: () => SearchStats;
  if (kind === 'fast') {
    const index = await prepareFastIndex(bank, opts);
    run = (queries, nq, o) => fastNearest(index, queries, nq, o);
    stats = () => ({ ...index.stats });
  } else {
    const counts: SearchStats = { queries: 0, projected: 0, fullGemm: 0, scanned: 0 };
    if (kind === 'gemm') {
      const index = prepareGemmIndex(bank, opts.threads);
      run = async (queries, nq, o) => {
        counts.queries += nq;
        counts.fullGemm += nq;
        return gemmNearest(index, queries, nq, o);
      };
    } else {
      run = async (queries, nq, o) => {
        counts.queries += nq;
        counts.scanned += nq;
        return nearestRowsReference(bank, queries, nq, o);
      };
    }
    stats = () => ({ ...counts });
  }
  let released = false;
  return {
    kind,
    rows: bank.rows,
    dim: bank.dim,
    nearest(queries, nq, o = {}) {
      if (released) return Promise.reject(appError('INTERNAL', ['searcher used after release']));
      checkQueries(bank, queries, nq, o);
      return run(queries, nq, o);
    },
    stats,
    release() {
      released = true;
      run = () => Promise.reject(appError('INTERNAL', ['searcher used after release']));
    },
  };
}

/** Searchers made by the plain functions, per bank array and kind/threads. */
const cache = new WeakMap<Float32Array, Map<string, Promise<Searcher>>>();

function cachedSearcher(bank: SearchBank, opts: SearcherOptions): Promise<Searcher> {
  let perBank = cache.get(bank.features);
  if (perBank === undefined) {
    perBank = new Map();
    cache.set(bank.features, perBank);
  }
  const key = `${opts.kind}/${opts.threads ?? ''}/${bank.rows}x${bank.dim}`;
  let s = perBank.get(key);
  if (s === undefined) {
    s = createSearcher(bank, opts);
    perBank.set(key, s);
  }
  return s;
}

export type PlainSearchOptions = SearchOptions & { threads?: number };

export async function nearestRowsGemm(bank: SearchBank, queries: Float32Array, nq: number, opts: PlainSearchOptions = {}): Promise<NearestResult> {
  const searcher = await cachedSearcher(bank, { kind: 'gemm', threads: opts.threads });
  return searcher.nearest(queries, nq, opts);
}

export async function nearestRows(bank: SearchBank, queries: Float32Array, nq: number, opts: PlainSearchOptions = {}): Promise<NearestResult> {
  const searcher = await cachedSearcher(bank, { kind: 'fast', threads: opts.threads });
  return searcher.nearest(queries, nq, opts);
}
