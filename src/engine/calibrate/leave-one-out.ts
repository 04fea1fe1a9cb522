/**
 * Leave-one-image-out scores of the training photos (guide §3): each photo against the bank with
 * its own rows excluded. With two or more threads a second lane (a worker thread with its own
 * searchers over the same index and, in shared memory, the same bank) scores photos alongside
 * this thread; each lane takes the next photo when it finishes one. A photo's score does not
 * depend on the lane that computed it.
 */
import { median } from '../../common/stats.js';
import { bankRows } from '../kernels/exact.js';
import { shareWork, sharedCopy, ThreadLane } from '../kernels/thread-lane.js';
import { anomalyMap, decisionMap } from '../score/map.js';
import {
  type BankSearchIndexes,
  bankSearchIndexes,
  createBankSearchers,
  releaseBankSearchers,
  imageScore,
  scorePatches,
  type ScoreOptions,
} from '../score/score.js';
import type { Bank, BankSet, TrainingFeatures } from '../types.js';

export interface LeaveOneOutInput {
  bankSet: BankSet;
  /** Training features in build order (the bank's source image indices refer to these). */
  features: TrainingFeatures;
  /** Map resolution (the crop) and blur of spec §6. */
  mapSize: { h: number; w: number };
  blurSigma: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** Threads of the pass: two or more give it a second lane; absent, one lane on the searchers' default threads. */
  threads?: number;
  /** The search indexes of an earlier pass over much the same banks: their bases are reused (speed only). */
  similar?: BankSearchIndexes | null;
}

export interface LeaveOneOutScores {
  scores: number[];
  pixelMedian: number;
  /**
   * Images a tiny bank holds all its rows of: they cannot be left out of it, so they were scored
   * against the whole bank and must stay out of the threshold, like suspects.
   */
  notLeftOut: number[];
  /** The pass's search indexes (null for searchers without one), for a later pass's `similar`. */
  indexes: BankSearchIndexes | null;
}

/** Training images whose maps estimate the median pixel score (the colour scale's low end). */
const PIXEL_MEDIAN_IMAGES = 32;
/** Below this many photos a second lane (a thread, its own search tree) costs more than it saves. */
const MIN_PHOTOS_FOR_LANE = 16;

/** What the second lane is started with. */
export interface LaneSetup {
  bankSet: BankSet;
  index: BankSearchIndexes | null;
  threads: number;
}

export interface LaneRequest {
  query: Float32Array;
  excludeImage: number | null;
  wantMap: boolean;
}

export interface LaneAnswer {
  imageScore: number;
  mapScores: Float32Array | null;
}

/** A photo's leave-one-out score, and its map scores when `wantMap` (else only the image score is searched for). */
export async function scoreOne(bankSet: BankSet, query: Float32Array, opts: ScoreOptions, wantMap: boolean): Promise<LaneAnswer> {
  if (!wantMap) return { imageScore: await imageScore(bankSet, query, opts), mapScores: null };
  const r = await scorePatches(bankSet, query, opts);
  return { imageScore: r.imageScore, mapScores: r.mapScores };
}

/** The training image every row of `bank` comes from, or -1 (rows from several images, or none). */
function soleSource(bank: Bank | null): number {
  if (!bank || bank.rows === 0) return -1;
  const first = bank.sourceImage[0];
  for (let r = 1; r < bank.rows; r++) if (bank.sourceImage[r] !== first) return -1;
  return first;
}

/** A bank whose arrays live in shared memory, so that the lane reads the same copy. */
function sharedBank(bank: Bank): Bank {
  // Private rows are copied once, into a WebAssembly memory where they fit (the search's kernel).
  const rows = bank.features.buffer instanceof SharedArrayBuffer ? null : bankRows(bank.rows, bank.dim);
  rows?.features.set(bank.features);
  return {
    ...bank,
    ...rows,
    weights: sharedCopy(bank.weights, (b) => new Float32Array(b)),
    sourceImage: sharedCopy(bank.sourceImage, (b) => new Int32Array(b)),
  };
}

/** Leave-one-image-out image score of every training image and the median pixel score. */
export async function scoreLeaveOneOut(input: LeaveOneOutInput): Promise<LeaveOneOutScores> {
  const { features, mapSize } = input;
  const B = features.count;
  const lanes = (input.threads ?? 1) >= 2 && B >= MIN_PHOTOS_FOR_LANE ? 2 : 1;
  const threads = input.threads === undefined ? undefined : Math.max(1, Math.floor(input.threads / lanes));
  const bankSet: BankSet =
    lanes === 1
      ? input.bankSet
      : { ...input.bankSet, cls: sharedBank(input.bankSet.cls), seg: input.bankSet.seg && sharedBank(input.bankSet.seg) };
  const owners = new Set([soleSource(bankSet.cls), soleSource(bankSet.seg)].filter((b) => b >= 0));
  const scores = new Array<number>(B);
  const pixelMedians = new Map<number, number>();
  const pixelStride = Math.max(1, Math.ceil(B / PIXEL_MEDIAN_IMAGES));
  let next = 0;
  let done = 0;
  const excludeOf = (b: number): number | null => (owners.has(b) ? null : b);
  const record = (b: number, imageScore: number, mapScores: Float32Array | null): void => {
    scores[b] = imageScore;
    // The median of all pixel scores (of the decision map, the scale inspections draw) is
    // estimated as the median of per-image medians, over evenly spaced images: it only sets the
    // colour scale, and the full-size map of every image cost a third of the calibration.
    if (mapScores)
      pixelMedians.set(b, median(decisionMap(anomalyMap(mapScores, bankSet.grid, mapSize.h, mapSize.w, input.blurSigma), imageScore)));
    input.onProgress?.(++done, B);
  };
  const take = (): number | null => {
    input.signal?.throwIfAborted();
    return next < B ? next++ : null;
  };
  // One search structure for all B images (building one per call would dominate the cost), made
  // with every thread; each lane then searches with its share.
  const searchers = await createBankSearchers(
    bankSet,
    input.threads === undefined ? {} : { threads: input.threads },
    undefined,
    input.similar ?? undefined,
  );
  const indexes = bankSearchIndexes(searchers);
  let lane: ThreadLane<LaneRequest, LaneAnswer> | null = null;
  try {
    if (lanes === 2) {
      const setup: LaneSetup = { bankSet, index: indexes, threads: threads ?? 1 };
      lane = new ThreadLane(new URL('./leave-one-out-worker.js', import.meta.url), setup, 'leave-one-out worker');
    }
    const second = lane;
    await shareWork(
      take,
      async (b) => {
        const exclude = excludeOf(b);
        const opts: ScoreOptions = {
          searchers,
          ...(threads === undefined ? {} : { threads }),
          ...(exclude === null ? {} : { excludeImage: exclude }),
        };
        const r = await scoreOne(bankSet, await features.read(b), opts, b % pixelStride === 0);
        record(b, r.imageScore, r.mapScores);
      },
      second &&
        (async (b) => {
          const r = await second.request({ query: await features.read(b), excludeImage: excludeOf(b), wantMap: b % pixelStride === 0 });
          record(b, r.imageScore, r.mapScores);
        }),
    );
  } finally {
    releaseBankSearchers(searchers);
    await lane?.close();
  }
  const medians = [...pixelMedians.entries()].sort((x, y) => x[0] - y[0]).map(([, m]) => m);
  return { scores, pixelMedian: median(medians), notLeftOut: [...owners].sort((x, y) => x - y), indexes };
}
