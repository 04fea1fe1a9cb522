/** The noise report of guide §2.4: which training photos the build judged defective, and how clearly. */
import { type NoiseEntry, type SuspectEvidence, type SuspectReport, SUSPECT_FENCE_K } from '../engine/index.js';
import type { LineConfig, NoiseReport, NoiseReportEntry } from '../store/types.js';

export interface TrainingImageRef {
  id: string;
  filename: string;
}

/**
 * Per-image figures with the build's suspects and the photos left out of the threshold (and under
 * `excludeSuspects` the bank), most suspicious first by the line's evidence.
 */
export function noiseReportEntries(
  noise: readonly NoiseEntry[],
  images: readonly TrainingImageRef[],
  calibrationScores: readonly number[],
  suspects: ReadonlySet<number>,
  leftOut: ReadonlySet<number>,
  evidence: SuspectEvidence,
): NoiseReportEntry[] {
  const key = (e: NoiseReportEntry): number => (evidence === 'removedShare' ? e.removedShare : e.calibrationScore);
  return noise
    .map((e) => ({
      id: images[e.image].id,
      filename: images[e.image].filename,
      removedShare: e.removedShare,
      meanScore: e.meanScore,
      maxScore: e.maxScore,
      topScore: e.topScore,
      calibrationScore: calibrationScores[e.image],
      suspect: suspects.has(e.image),
      leftOut: leftOut.has(e.image),
    }))
    .sort((a, b) => key(b) - key(a) || b.maxScore - a.maxScore || (a.id < b.id ? -1 : 1));
}

function ruleText(config: LineConfig): string {
  const fence = `median + ${SUSPECT_FENCE_K}·1.4826·MAD`;
  const rule =
    config.suspectEvidence === 'removedShare'
      ? `suspect = removedShare > max(suspectShare (${config.suspectShare}), ${fence} of the removed shares); sorted by removedShare, then maxScore, descending`
      : `suspect = calibrationScore (leave-one-image-out image score) > ${config.suspectFence === 'gumbel' ? 'the 1 − 1/B quantile of a Gumbel fitted to the median and MAD' : fence} of the calibration scores; sorted by calibrationScore, descending`;
  return config.excludeSuspects ? `${rule}; the bank holds no patch of a suspect (excludeSuspects)` : rule;
}

export function noiseReport(
  line: string,
  buildId: string,
  config: LineConfig,
  entries: NoiseReportEntry[],
  report: SuspectReport,
): NoiseReport {
  return {
    line,
    buildId,
    method: config.method,
    removalQuantile: config.removalQuantile,
    suspectShare: config.suspectShare,
    evidence: report.evidence,
    rule: ruleText(config),
    suspects: entries.filter((e) => e.suspect).length,
    fence: report.fence,
    separation: { gap: report.gap, borderline: report.borderline },
    images: entries,
  };
}
