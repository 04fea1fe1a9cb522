/** The suspect rule of the noise report (guide §2.4): which training photos a build judges defective. */
import { median } from '../../common/stats.js';
import type { NoiseEntry } from '../types.js';
import { robustSpread } from './fence.js';

/**
 * Floor of the `removedShare` suspect rule (see `suspectImages`): a suspect lost more than this
 * share of its patches. Twice the default removal quantile τ = 0.15: clean images lose about 0.11
 * of their patches on the reference run (spec §10), defective ones about half.
 */
export const DEFAULT_SUSPECT_SHARE = 0.3;

/**
 * k of the robust fence on the evidence. The removal quantile τ removes a fixed share of all
 * patches even from a perfectly clean set, so some clean photos always lose more than others
 * (on clean bottle photos up to 0.43, one at 0.56): an absolute share alone flags about one clean
 * photo in ten. A photo is a suspect only when its evidence is also an outlier among this build's
 * photos: above median + k · 1.4826 · MAD.
 */
export const SUSPECT_FENCE_K = 3.5;

/**
 * What ranks the photos. `removedShare` (spec): the share of its patches the discriminator
 * removed; a small defect covers a few patches and hardly moves it. `calibrationScore`: the
 * photo's leave-one-image-out image score, i.e. the photo inspected against a bank without its own
 * patches: the score the line would give it as a test photo, so a defect the line can detect
 * stands out however small it is.
 */
export const SUSPECT_EVIDENCE = ['removedShare', 'calibrationScore'] as const;
export type SuspectEvidence = (typeof SUSPECT_EVIDENCE)[number];

/**
 * Where the `calibrationScore` evidence puts its fence. `mad` (as `removedShare`): median + k ·
 * 1.4826 · MAD. `gumbel`: an image score is the maximum of its patch scores, so the scores of clean
 * photos follow an extreme-value (Gumbel) law with a long right tail that a normal-theory fence
 * cuts too low on lines with rare poses; the Gumbel is fitted robustly (from the median and MAD, so
 * that the defective photos cannot stretch it) and the fence is its 1 − 1/B quantile: among B
 * clean photos one is expected above it by chance, whatever B is.
 */
export const SUSPECT_FENCES = ['mad', 'gumbel'] as const;
export type SuspectFence = (typeof SUSPECT_FENCES)[number];

/** Median and MAD of a Gumbel with scale 1: median = μ + 0.3665 β, MAD = 0.7670 β. */
const GUMBEL_MEDIAN = -Math.log(Math.LN2);
const GUMBEL_MAD = 0.7670492513257081;

/** The 1 − 1/n quantile of the Gumbel with this median and robust spread (1.4826 · MAD). */
export function gumbelFence(m: number, spread: number, n: number): number {
  const beta = spread / 1.4826 / GUMBEL_MAD;
  const location = m - GUMBEL_MEDIAN * beta;
  return location - beta * Math.log(-Math.log(1 - 1 / Math.max(2, n)));
}

export interface SuspectReport {
  evidence: SuspectEvidence;
  /** The evidence value above which a photo is a suspect. */
  fence: number;
  /** Robust spread of the evidence (1.4826 · MAD): the unit of `gap`. */
  spread: number;
  suspects: number[];
  /**
   * How separable the suspects are: (lowest suspect − highest other photo) / spread (null without
   * suspects), and how many photos lie within one spread of the fence, where the call is unsure.
   */
  gap: number | null;
  borderline: number;
}

/** Training images (indices) judged defective: removedShare > max(suspectShare, robust fence). */
export function suspectImages(noise: readonly NoiseEntry[], suspectShare: number): Set<number> {
  return new Set(
    suspectReport(
      noise.map((e) => e.removedShare),
      'removedShare',
      suspectShare,
    ).suspects,
  );
}

/** Suspects by one evidence value per photo: above max(floor, the fence by `rule`). */
export function suspectReport(
  evidence: readonly number[],
  kind: SuspectEvidence,
  floor = -Infinity,
  rule: SuspectFence = 'mad',
): SuspectReport {
  const m = median(evidence);
  const spread = robustSpread(evidence, m);
  const fence = Math.max(floor, rule === 'gumbel' ? gumbelFence(m, spread, evidence.length) : m + SUSPECT_FENCE_K * spread);
  const suspects: number[] = [];
  let lowestSuspect = Infinity;
  let highestOther = -Infinity;
  let borderline = 0;
  evidence.forEach((e, i) => {
    if (e > fence) {
      suspects.push(i);
      lowestSuspect = Math.min(lowestSuspect, e);
    } else highestOther = Math.max(highestOther, e);
    if (Math.abs(e - fence) < spread) borderline++;
  });
  return { evidence: kind, fence, spread, suspects, gap: suspects.length ? (lowestSuspect - highestOther) / spread : null, borderline };
}
