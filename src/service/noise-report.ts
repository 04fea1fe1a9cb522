/** The noise report of guide §2.4: which training photos the build judged defective. */
import { type NoiseEntry, SUSPECT_FENCE_K } from '../engine/index.js';
import type { LineConfig, NoiseReport, NoiseReportEntry } from '../store/types.js';

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
