/**
 * The label-free decision (guide §3). Every training image is scored against the new bank with
 * its own memory rows excluded (leave-one-image-out), so it cannot find itself; the noise report's
 * suspects are chosen (`decide`), and the threshold is fitted to the scores of the others so that
 * defective uploads do not drag it up. `calibrate` = `scoreLeaveOneOut` then `decide`.
 */
import { anomalyMap, decisionMap } from '../score/map.js';
import { createBankSearchers, releaseBankSearchers, scorePatches } from '../score/score.js';
import type { Bank, BankSet, NoiseEntry, TrainingFeatures } from '../types.js';
import { median } from '../../common/stats.js';
import { DEFAULT_SENSITIVITY, thresholdFrom } from './fence.js';
import { DEFAULT_SUSPECT_SHARE, type SuspectEvidence, type SuspectReport, suspectReport } from './suspects.js';
import { type TailThreshold, tailThreshold } from './tail.js';

/**
 * `fence` (spec): m + k·s of the kept scores. `tail`: the (1 − falseAlarmRate) quantile of a
 * Gumbel fitted to them (`tail.ts`).
 */
export const THRESHOLD_RULES = ['fence', 'tail'] as const;
export type ThresholdRule = (typeof THRESHOLD_RULES)[number];

export interface DecisionRules {
  thresholdRule: ThresholdRule;
  /** k of the fence. */
  sensitivity: number;
  /** α of the tail rule: the share of good photos it is meant to reject. */
  falseAlarmRate: number;
  suspectEvidence: SuspectEvidence;
  /** Floor of the `removedShare` evidence. */
  suspectShare: number;
}

/**
 * One good photo in a hundred rejected: a rate a station can live with and that a few dozen
 * training photos can still estimate (the quantile sits just past their largest score).
 */
export const DEFAULT_FALSE_ALARM_RATE = 0.01;

export const SPEC_DECISION_RULES: Readonly<DecisionRules> = Object.freeze({
  thresholdRule: 'fence',
  sensitivity: DEFAULT_SENSITIVITY,
  falseAlarmRate: DEFAULT_FALSE_ALARM_RATE,
  suspectEvidence: 'removedShare',
  suspectShare: DEFAULT_SUSPECT_SHARE,
});

export interface Decision {
  suspects: SuspectReport;
  /** Fence figures, always computed (the line's sensitivity applies to them without a rebuild). */
  median: number;
  spread: number;
  sensitivity: number;
  /** Tail fit, always computed (the line's false-alarm rate applies to it without a rebuild). */
  tail: TailThreshold;
  rule: ThresholdRule;
  threshold: number;
  /** Photos the threshold rests on (training photos minus suspects). */
  basis: number;
}

/**
 * Suspects, then the threshold from the other photos' leave-one-out scores; `alsoExcluded` are
 * photos whose score is not a leave-one-out score (see `LeaveOneOutScores.notLeftOut`).
 */
export function decide(
  scores: number[],
  noise: readonly NoiseEntry[],
  rules: DecisionRules,
  alsoExcluded: ReadonlySet<number> = new Set(),
): Decision {
  const suspects =
    rules.suspectEvidence === 'removedShare'
      ? suspectReport(
          noise.map((e) => e.removedShare),
          'removedShare',
          rules.suspectShare,
        )
      : suspectReport(scores, 'calibrationScore');
  const out = new Set([...suspects.suspects, ...alsoExcluded]);
  const fence = thresholdFrom(scores, out, rules.sensitivity);
  const kept = scores.filter((_, i) => !out.has(i));
  const basis = kept.length > 0 ? kept : scores;
  const tail = tailThreshold(basis, rules.falseAlarmRate);
  return {
    suspects,
    median: fence.median,
    spread: fence.spread,
    sensitivity: rules.sensitivity,
    tail,
    rule: rules.thresholdRule,
    threshold: rules.thresholdRule === 'fence' ? fence.threshold : tail.threshold,
    basis: basis.length,
  };
}

export interface Calibration extends Decision {
  /** Leave-one-image-out image score per training image (build order). */
  scores: number[];
  /** Median of the calibration pixel scores: the bottom of the heatmap colour scale. */
  pixelMedian: number;
  /** Training images left out of the threshold (the suspects), ascending. */
  excluded: number[];
}

export interface CalibrationInput {
  bankSet: BankSet;
  /** Training features in build order (the bank's source image indices refer to these). */
  features: TrainingFeatures;
  /** The build's per-image noise figures (for the `removedShare` evidence). */
  noise: readonly NoiseEntry[];
  rules: DecisionRules;
  /** Map resolution (the crop) and blur of spec §6. */
  mapSize: { h: number; w: number };
  blurSigma: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** onnxruntime threads of the search (engine default when absent). */
  threads?: number;
}

/** The training image every row of `bank` comes from, or -1 (rows from several images, or none). */
function soleSource(bank: Bank | null): number {
  if (!bank || bank.rows === 0) return -1;
  const first = bank.sourceImage[0];
  for (let r = 1; r < bank.rows; r++) if (bank.sourceImage[r] !== first) return -1;
  return first;
}

export interface LeaveOneOutScores {
  scores: number[];
  pixelMedian: number;
  /**
   * Images a tiny bank holds all its rows of: they cannot be left out of it, so they were scored
   * against the whole bank and must stay out of the threshold, like suspects.
   */
  notLeftOut: number[];
}

/** Training images whose maps estimate the median pixel score (the colour scale's low end). */
const PIXEL_MEDIAN_IMAGES = 32;

/** Leave-one-image-out image score of every training image and the median pixel score. */
export async function scoreLeaveOneOut(input: Omit<CalibrationInput, 'noise' | 'rules'>): Promise<LeaveOneOutScores> {
  const { bankSet, features, mapSize } = input;
  const owners = new Set([soleSource(bankSet.cls), soleSource(bankSet.seg)].filter((b) => b >= 0));
  const scores: number[] = [];
  const pixelMedians: number[] = [];
  const pixelStride = Math.max(1, Math.ceil(features.count / PIXEL_MEDIAN_IMAGES));
  // One search structure for all B images (building one per call would dominate the cost).
  const searchers = await createBankSearchers(bankSet, input.threads === undefined ? {} : { threads: input.threads });
  try {
    for (let b = 0; b < features.count; b++) {
      input.signal?.throwIfAborted();
      const r = await scorePatches(bankSet, await features.read(b), owners.has(b) ? { searchers } : { excludeImage: b, searchers });
      scores.push(r.imageScore);
      // The median of all pixel scores (of the decision map, the scale inspections draw) is
      // estimated as the median of per-image medians, over evenly spaced images: it only sets the
      // colour scale, and the full-size map of every image cost a third of the calibration.
      if (b % pixelStride === 0) {
        pixelMedians.push(median(decisionMap(anomalyMap(r.mapScores, bankSet.grid, mapSize.h, mapSize.w, input.blurSigma), r.imageScore)));
      }
      input.onProgress?.(b + 1, features.count);
    }
  } finally {
    releaseBankSearchers(searchers);
  }
  return { scores, pixelMedian: median(pixelMedians), notLeftOut: [...owners].sort((x, y) => x - y) };
}

export async function calibrate(input: CalibrationInput): Promise<Calibration> {
  const { scores, pixelMedian, notLeftOut } = await scoreLeaveOneOut(input);
  const d = decide(scores, input.noise, input.rules, new Set(notLeftOut));
  const excluded = new Set([...d.suspects.suspects, ...notLeftOut]);
  return { ...d, scores, pixelMedian, excluded: [...excluded].sort((x, y) => x - y) };
}
