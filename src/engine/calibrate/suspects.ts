/** The suspect rule of the noise report (guide §2.4): which training photos a build judges defective. */
import { median } from '../../common/stats.js';
import type { NoiseEntry } from '../types.js';
import { robustSpread } from './threshold.js';

/**
 * Floor of the noise-report suspect rule (see `suspectImages`): a suspect lost more than this share
 * of its patches. Twice the default removal quantile τ = 0.15: clean images lose about 0.11 of
 * their patches on the reference run (spec §10), defective ones about half.
 */
export const DEFAULT_SUSPECT_SHARE = 0.3;

/**
 * k of the robust fence on removed shares. The removal quantile τ removes a fixed share of all
 * patches even from a perfectly clean set, so some clean photos always lose more than others
 * (on clean bottle photos up to 0.43, one at 0.56): an absolute share alone flags about one clean
 * photo in ten. A photo is a suspect only when its share is also an outlier among this build's
 * photos: above median + k · 1.4826 · MAD.
 */
export const SUSPECT_FENCE_K = 3.5;

/** Training images (indices) judged defective: removedShare > max(suspectShare, robust fence). */
export function suspectImages(noise: readonly NoiseEntry[], suspectShare: number): Set<number> {
  const shares = noise.map((e) => e.removedShare);
  const m = median(shares);
  const fence = Math.max(suspectShare, m + SUSPECT_FENCE_K * robustSpread(shares, m));
  return new Set(noise.filter((e) => e.removedShare > fence).map((e) => e.image));
}

