/**
 * The label-free decision (guide §3). Every training image is scored against the new bank with
 * its own memory rows excluded (leave-one-image-out), so it cannot find itself; the noise report's
 * suspects are chosen (`decide`), and the threshold is fitted to the scores of the others so that
 * defective uploads do not drag it up. `calibrate` = `scoreLeaveOneOut` then `decide`; with
 * `excludeSuspects` the bank is then chosen again without the patches of the photos left out
 * (`Decision.leftOut`), the photos are scored again against it, and the threshold is fitted to
 * those scores.
 */
import { appError } from '../../common/errors.js';
import type { BankSet, NoiseEntry, SuspectRebuild, TrainingFeatures } from '../types.js';
import { type LeaveOneOutScores, scoreLeaveOneOut } from './leave-one-out.js';
import { DEFAULT_SENSITIVITY, thresholdFrom } from './fence.js';
import { DEFAULT_SUSPECT_SHARE, type SuspectEvidence, type SuspectFence, type SuspectReport, suspectReport } from './suspects.js';
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
  /** Fence of the `calibrationScore` evidence (`removedShare` always uses `mad`). */
  suspectFence: SuspectFence;
  /** Floor of the `removedShare` evidence. */
  suspectShare: number;
  /**
   * Choose the bank again without any patch of the `leftOut` photos and calibrate on it: the noise
   * report says they are defective, so none of their patches may define "normal" (a small defect
   * that survives the per-patch denoising, or one repeated in several photos, would otherwise stay
   * in the bank and match the same defect in a test photo).
   */
  excludeSuspects: boolean;
  /** How that bank is chosen (`SuspectRebuild`). */
  suspectRebuild: SuspectRebuild;
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
  suspectFence: 'mad',
  suspectShare: DEFAULT_SUSPECT_SHARE,
  excludeSuspects: false,
  suspectRebuild: 'coreset',
});

export interface Decision {
  /** The noise report's suspects, by the evidence and its fence. */
  suspects: SuspectReport;
  /**
   * Photos left out of the threshold and, under `excludeSuspects`, of the bank: the suspects and,
   * with the `calibrationScore` evidence, every photo above its `mad` fence as well. The report
   * names photos for a person to act on, so its `gumbel` fence expects one false flag per build;
   * the bank and the threshold must not learn from a defect, and a good photo left out of them
   * costs little among many, so they use the lower of the two fences.
   */
  leftOut: number[];
  /** Fence figures, always computed (the line's sensitivity applies to them without a rebuild). */
  median: number;
  spread: number;
  sensitivity: number;
  /** Tail fit, always computed (the line's false-alarm rate applies to it without a rebuild). */
  tail: TailThreshold;
  rule: ThresholdRule;
  threshold: number;
  /** Photos the threshold rests on (training photos minus `leftOut`). */
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
      : suspectReport(scores, 'calibrationScore', -Infinity, rules.suspectFence);
  const outliers = rules.suspectEvidence === 'calibrationScore' ? suspectReport(scores, 'calibrationScore').suspects : [];
  const leftOut = [...new Set([...suspects.suspects, ...outliers])].sort((x, y) => x - y);
  return { suspects, leftOut, ...thresholdOf(scores, new Set([...leftOut, ...alsoExcluded]), rules) };
}

/** The threshold by `rules` from the scores of the photos not in `out`. */
function thresholdOf(scores: number[], out: ReadonlySet<number>, rules: DecisionRules): Omit<Decision, 'suspects' | 'leftOut'> {
  const fence = thresholdFrom(scores, out, rules.sensitivity);
  const kept = scores.filter((_, i) => !out.has(i));
  const basis = kept.length > 0 ? kept : scores;
  const tail = tailThreshold(basis, rules.falseAlarmRate);
  return {
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
  /** Leave-one-image-out image score per training image (build order) against `bankSet`. */
  scores: number[];
  /** The same against the built bank: the `calibrationScore` evidence of the suspects. */
  suspectScores: number[];
  /** The bank set to keep: the built one, or under `excludeSuspects` the one chosen without `leftOut`. */
  bankSet: BankSet;
  /** Median of the calibration pixel scores: the bottom of the heatmap colour scale. */
  pixelMedian: number;
  /** Training images left out of the threshold (`leftOut` and tiny banks' owners), ascending. */
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
  /** Threads of the leave-one-out passes: two or more run two lanes (`leave-one-out.ts`); absent, one lane. */
  threads?: number;
  /**
   * The bank set chosen without some photos (`BuildResult.rebuildWithout`); needed for
   * `excludeSuspects`. It reports its own steps (the coreset's picks), counted in the calibration's.
   */
  rebuild?: (without: ReadonlySet<number>, onProgress: (done: number, total: number) => void, how: SuspectRebuild) => Promise<BankSet>;
}

/**
 * Progress in steps: the first pass's B photos, then under `excludeSuspects` the rebuild's steps
 * (known once it starts, so the total grows then) and the second pass's B photos.
 */
export async function calibrate(input: CalibrationInput): Promise<Calibration> {
  const B = input.features.count;
  const expected = (input.rules.excludeSuspects ? 2 : 1) * B;
  const first = await scoreLeaveOneOut({ ...input, onProgress: (done) => input.onProgress?.(done, expected) });
  return calibrateFrom(first, { ...input, onProgress: (done, total) => input.onProgress?.(B + done, B + total) });
}

/**
 * `calibrate` after its first leave-one-out pass, `first` (the eval decides several rules on one
 * pass); `input.onProgress` counts the rebuild and the second pass only, and ends at done = total.
 */
export async function calibrateFrom(first: LeaveOneOutScores, input: CalibrationInput): Promise<Calibration> {
  const d = decide(first.scores, input.noise, input.rules, new Set(first.notLeftOut));
  const leftOut = new Set(d.leftOut);
  let final = first;
  let decision = d;
  let bankSet = input.bankSet;
  // A build whose photos are all left out keeps its bank: there is nothing else to choose from.
  const B = input.features.count;
  let rebuildSteps = 0;
  if (input.rules.excludeSuspects && leftOut.size > 0 && leftOut.size < B) {
    if (!input.rebuild) throw appError('ENGINE_INPUT', ['excludeSuspects needs the build (rebuild) to choose the bank again']);
    bankSet = await input.rebuild(
      leftOut,
      (done, total) => {
        rebuildSteps = total;
        input.onProgress?.(done, total + B);
      },
      input.rules.suspectRebuild,
    );
    input.signal?.throwIfAborted();
    final = await scoreLeaveOneOut({
      ...input,
      bankSet,
      // The bank chosen again differs from the first in the left-out photos' rows: the first's bases serve.
      similar: first.indexes,
      onProgress: (done) => input.onProgress?.(rebuildSteps + done, rebuildSteps + B),
    });
    const out = new Set([...leftOut, ...first.notLeftOut, ...final.notLeftOut]);
    decision = { ...d, ...thresholdOf(final.scores, out, input.rules) };
  }
  const excluded = new Set([...leftOut, ...first.notLeftOut, ...final.notLeftOut]);
  // Nothing rebuilt: the second pass `calibrate` expected under `excludeSuspects` counts as done.
  const steps = final === first ? (input.rules.excludeSuspects ? B : 0) : rebuildSteps + B;
  input.onProgress?.(steps, steps);
  return {
    ...decision,
    scores: final.scores,
    suspectScores: first.scores,
    pixelMedian: final.pixelMedian,
    excluded: [...excluded].sort((x, y) => x - y),
    bankSet,
  };
}
