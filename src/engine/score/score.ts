/**
 * Patch and image scores of one image (spec §6 steps 2–4, §7.2 "Inspect"): each patch's nearest
 * memory row is chosen on squared distance alone, and only then multiplied by that row's soft
 * weight, a_p = w[m*(p)]·d_p. The image score is max_p a_p from the classification bank; the map
 * scores come from the segmentation bank when there is one (softpatch+).
 */
import { appError } from '../../common/errors.js';
import { cachedSearcher, createSearcher } from '../search/searcher.js';
import type { FastIndexData, NearestResult, SearcherOptions, Searcher } from '../search/types.js';
import type { Bank, BankSet, PatchScores } from '../types.js';

/** One searcher per bank of a bank set, built once per loaded bank set. */
export interface BankSearchers {
  cls: Searcher;
  seg: Searcher | null;
}

/** The fast searchers' index arrays of a bank set, to build the same searchers elsewhere quickly. */
export interface BankSearchIndexes {
  cls: FastIndexData;
  seg: FastIndexData | null;
}

/** `prepared`: these banks' own indexes; `similar`: the indexes of much the same banks (`SearcherOptions.similar`). */
export async function createBankSearchers(
  bankSet: BankSet,
  opts: SearcherOptions = {},
  prepared?: BankSearchIndexes,
  similar?: BankSearchIndexes,
): Promise<BankSearchers> {
  const cls = await createSearcher(bankSet.cls, { ...opts, prepared: prepared?.cls, similar: similar?.cls });
  const seg =
    bankSet.seg === null
      ? null
      : await createSearcher(bankSet.seg, { ...opts, prepared: prepared?.seg ?? undefined, similar: similar?.seg ?? undefined });
  return { cls, seg };
}

/** The index arrays of fast bank searchers (null for other kinds). */
export function bankSearchIndexes(s: BankSearchers): BankSearchIndexes | null {
  const cls = s.cls.indexData();
  const seg = s.seg?.indexData() ?? null;
  if (cls === null || (s.seg !== null && seg === null)) return null;
  return { cls, seg };
}

export function releaseBankSearchers(s: BankSearchers): void {
  s.cls.release();
  s.seg?.release();
}

export interface ScoreOptions {
  /** Skip the rows taken from this training image (leave-one-image-out calibration). */
  excludeImage?: number;
  /** Multiply by the row weights (default true; false = PatchCore's plain distance). */
  softWeights?: boolean;
  /** Searchers to use; without them the banks' cached fast searchers (built on first use). */
  searchers?: BankSearchers;
  /** onnxruntime threads of this search (default: the searchers'); the scores do not depend on it. */
  threads?: number;
}

/** a_p = w[m*]·d_p (or d_p without weights), from a finished nearest-row search. */
export function weightedScores(bank: Bank, nearest: NearestResult, softWeights: boolean): Float32Array {
  const n = nearest.index.length;
  const out = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    const row = nearest.index[p];
    if (row < 0) throw appError('ENGINE_INPUT', ['every bank row comes from the excluded image']);
    out[p] = softWeights ? bank.weights[row] * nearest.dist2[p] : nearest.dist2[p];
  }
  return out;
}

async function bankScores(
  bank: Bank,
  searcher: Searcher,
  query: Float32Array,
  grid: { h: number; w: number },
  opts: ScoreOptions,
  maxOnly = false,
): Promise<Float32Array> {
  if (searcher.rows !== bank.rows || searcher.dim !== bank.dim) {
    throw appError('ENGINE_INPUT', [`searcher for ${searcher.rows} × ${searcher.dim} does not match bank ${bank.rows} × ${bank.dim}`]);
  }
  const exclude = opts.excludeImage === undefined ? {} : { excludeSource: { sourceImage: bank.sourceImage, image: opts.excludeImage } };
  const softWeights = opts.softWeights ?? true;
  const nearest = await searcher.nearest(query, grid.h * grid.w, {
    ...exclude,
    threads: opts.threads,
    rowLength: grid.w,
    ...(maxOnly ? { maxOnly: { weights: softWeights ? bank.weights : null } } : {}),
  });
  return weightedScores(bank, nearest, softWeights);
}

/** The query checked against the bank set's shape; the searchers to use (the segmentation bank's only when `withSeg`). */
async function searchersOf(bankSet: BankSet, query: Float32Array, opts: ScoreOptions, withSeg: boolean): Promise<BankSearchers> {
  const patches = bankSet.grid.h * bankSet.grid.w;
  const dim = bankSet.cls.dim;
  if (query.length !== patches * dim) {
    throw appError('ENGINE_INPUT', [`query has ${query.length} floats, expected ${patches} patches × ${dim}`]);
  }
  return (
    opts.searchers ?? {
      cls: await cachedSearcher(bankSet.cls),
      seg: bankSet.seg === null || !withSeg ? null : await cachedSearcher(bankSet.seg),
    }
  );
}

function maxOf(scores: Float32Array): number {
  let m = -Infinity;
  for (const v of scores) m = Math.max(m, v);
  return m;
}

export async function scorePatches(bankSet: BankSet, query: Float32Array, opts: ScoreOptions = {}): Promise<PatchScores> {
  const searchers = await searchersOf(bankSet, query, opts, true);
  const scores = await bankScores(bankSet.cls, searchers.cls, query, bankSet.grid, opts);
  const imageScore = maxOf(scores);
  let mapScores = scores;
  if (bankSet.seg !== null) {
    if (searchers.seg === null) throw appError('ENGINE_INPUT', ['softpatch+ bank set scored without a segmentation searcher']);
    mapScores = await bankScores(bankSet.seg, searchers.seg, query, bankSet.grid, opts);
  }
  return { scores, imageScore, mapScores };
}

/**
 * The image score alone, `scorePatches(…).imageScore` to the bit: the classification bank's search
 * settles most patches at a row that proves they are not the largest (`SearchOptions.maxOnly`),
 * and the segmentation bank is not searched.
 */
export async function imageScore(bankSet: BankSet, query: Float32Array, opts: ScoreOptions = {}): Promise<number> {
  const searchers = await searchersOf(bankSet, query, opts, false);
  return maxOf(await bankScores(bankSet.cls, searchers.cls, query, bankSet.grid, opts, true));
}
