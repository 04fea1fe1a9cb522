/** Exact nearest memory row per query (spec §6 step 2): fast, exact-GEMM and plain reference searchers. */
export { cachedSearcher, createSearcher, nearestRows, nearestRowsGemm, type PlainSearchOptions } from './searcher.js';
export { exactDist2, exactDist2Below, nearestRowsReference } from './search-reference.js';
export type {
  FastIndexData,
  NearestResult,
  SearchBank,
  SearchOptions,
  Searcher,
  SearcherKind,
  SearcherOptions,
  SearchStats,
  SourceExclusion,
} from './types.js';
