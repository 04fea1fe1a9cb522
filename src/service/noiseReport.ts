/** The noise report of guide §2.4: which training photos the build judged defective. */
import type { NoiseEntry } from '../engine/types.js';
import type { LineConfig, NoiseReport, NoiseReportEntry } from '../store/types.js';
import { median } from '../common/stats.js';
import { robustSpread } from './calibration.js';

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

export interface TrainingImageRef {
  id: string;
  filename: string;
}

/** Per-image figures with the `suspects` of `suspectImages`, most suspicious first. */
export function noiseReportEntries(noise: readonly NoiseEntry[], images: readonly TrainingImageRef[], calibrationScores: readonly number[], suspects: ReadonlySet<number>): NoiseReportEntry[] {
  return noise
    .map((e) => ({
      id: images[e.image].id,
      filename: images[e.image].filename,
      removedShare: e.removedShare,
      meanScore: e.meanScore,
      maxScore: e.maxScore,
      calibrationScore: calibrationScores[e.image],
      suspect: suspects.has(e.image),
    }))
    .sort((a, b) => b.removedShare - a.removedShare || b.maxScore - a.maxScore || (a.id < b.id ? -1 : 1));
}

export function noiseReport(line: string, buildId: string, config: LineConfig, entries: NoiseReportEntry[]): NoiseReport {
  return {
    line,
    buildId,
    method: config.method,
    removalQuantile: config.removalQuantile,
    suspectShare: config.suspectShare,
    rule: `suspect = removedShare > max(suspectShare (${config.suspectShare}), median + ${SUSPECT_FENCE_K}·1.4826·MAD of the removed shares); sorted by removedShare, then maxScore, descending`,
    suspects: entries.filter((e) => e.suspect).length,
    images: entries,
  };
}
