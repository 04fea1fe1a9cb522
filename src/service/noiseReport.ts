/** The noise report of guide §2.4: which training photos the build judged defective. */
import type { NoiseEntry } from '../engine/types.js';
import type { LineConfig, NoiseReport, NoiseReportEntry } from '../store/types.js';

export interface TrainingImageRef {
  id: string;
  filename: string;
}

/** Per-image figures with `suspect = removedShare > suspectShare`, most suspicious first. */
export function noiseReportEntries(noise: readonly NoiseEntry[], images: readonly TrainingImageRef[], calibrationScores: readonly number[], suspectShare: number): NoiseReportEntry[] {
  return noise
    .map((e) => ({
      id: images[e.image].id,
      filename: images[e.image].filename,
      removedShare: e.removedShare,
      meanScore: e.meanScore,
      maxScore: e.maxScore,
      calibrationScore: calibrationScores[e.image],
      suspect: e.removedShare > suspectShare,
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
    rule: `suspect = removedShare > suspectShare (${config.suspectShare}); sorted by removedShare, then maxScore, descending`,
    suspects: entries.filter((e) => e.suspect).length,
    images: entries,
  };
}
