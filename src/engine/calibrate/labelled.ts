/**
 * Thresholds chosen on labelled validation photos (policy `validation`). The service's decision is
 * `anomalous = score > threshold` (strict), so every candidate threshold lies strictly between two
 * observed scores: the midpoint of neighbouring distinct scores, or below the lowest one. Validation
 * sets are small (tens to hundreds of photos), so each candidate is counted directly, O(n²).
 */

/** `defective[i]` is the label of `scores[i]` (true = defective = positive). */
export interface LabelledScores {
  scores: readonly number[];
  defective: readonly boolean[];
}

export interface ThresholdPoint {
  threshold: number;
  f1: number;
  accuracy: number;
  precision: number;
  recall: number;
  confusion: { tp: number; fp: number; tn: number; fn: number };
}

/** Decisions at threshold `t`: anomalous when score > t. */
export function pointAt({ scores, defective }: LabelledScores, t: number): ThresholdPoint {
  const c = { tp: 0, fp: 0, tn: 0, fn: 0 };
  scores.forEach((s, i) => {
    const flagged = s > t;
    if (defective[i]) c[flagged ? 'tp' : 'fn']++;
    else c[flagged ? 'fp' : 'tn']++;
  });
  const n = scores.length;
  return {
    threshold: t,
    f1: (2 * c.tp) / (2 * c.tp + c.fp + c.fn) || 0,
    accuracy: n ? (c.tp + c.tn) / n : 0,
    precision: c.tp + c.fp ? c.tp / (c.tp + c.fp) : 0,
    recall: c.tp + c.fn ? c.tp / (c.tp + c.fn) : 0,
    confusion: c,
  };
}

/** Distinct scores ascending, and for each the candidate just below it (midpoint to the previous one). */
function candidates(scores: readonly number[]): number[] {
  const v = [...new Set(scores)].sort((a, b) => a - b);
  if (v.length === 0) return [];
  const below = v[0] > 0 ? v[0] / 2 : v[0] - 1;
  return [below, ...v.slice(1).map((x, i) => (v[i] + x) / 2), v[v.length - 1]];
}

/** The threshold with the highest F1; ties keep the one with the higher accuracy, then the higher threshold (fewer alarms). */
export function bestF1Threshold(data: LabelledScores): ThresholdPoint {
  let best: ThresholdPoint | null = null;
  for (const t of candidates(data.scores)) {
    const p = pointAt(data, t);
    if (!best || p.f1 > best.f1 || (p.f1 === best.f1 && p.accuracy >= best.accuracy)) best = p;
  }
  if (!best) throw new RangeError('bestF1Threshold needs at least one score');
  return best;
}

/** The highest threshold that flags at least `recall` of the defective photos (fewest false alarms at that recall). */
export function recallThreshold(data: LabelledScores, recall: number): ThresholdPoint {
  const positives = data.defective.filter(Boolean).length;
  const need = Math.ceil(recall * positives - 1e-9);
  let chosen: ThresholdPoint | null = null;
  for (const t of candidates(data.scores)) {
    const p = pointAt(data, t);
    if (p.confusion.tp >= need) chosen = p;
  }
  if (!chosen) throw new RangeError('recallThreshold needs at least one score');
  return chosen;
}
