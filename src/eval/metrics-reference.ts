/**
 * Plain, slow versions of the metrics in metrics.ts, written straight from their textbook
 * definitions (ROC curve + trapezoids, one full pass per threshold) so that tests can compare the
 * fast versions against them. O(thresholds × pixels): for small inputs only.
 */
import { labelComponents } from '../render/components.js';
import { confusionAt, type F1Result, type Labels } from './metrics.js';

function distinctDescending(values: Iterable<number>): number[] {
  return [...new Set(values)].sort((a, b) => b - a);
}

/**
 * Area under the ROC curve built like scikit-learn's `roc_curve` + `auc`: one point per distinct
 * threshold (descending), starting at (0, 0), trapezoid rule.
 */
export function aurocTrapezoid(scores: ArrayLike<number>, labels: Labels): number {
  const all = Array.from(scores);
  let x0 = 0;
  let y0 = 0;
  let area = 0;
  for (const t of distinctDescending(all)) {
    const c = confusionAt(scores, labels, t);
    const x1 = c.fp / (c.fp + c.tn);
    const y1 = c.tp / (c.tp + c.fn);
    area += 0.5 * (y0 + y1) * (x1 - x0);
    x0 = x1;
    y0 = y1;
  }
  return area;
}

export function f1MaxReference(scores: ArrayLike<number>, labels: Labels): F1Result {
  let best: F1Result = { f1: -1, threshold: Number.NaN, precision: 0, recall: 0 };
  for (const t of distinctDescending(Array.from(scores))) {
    const c = confusionAt(scores, labels, t);
    const precision = c.tp / (c.tp + c.fp);
    const recall = c.tp + c.fn === 0 ? 0 : c.tp / (c.tp + c.fn);
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    if (f1 > best.f1) best = { f1, threshold: t, precision, recall };
  }
  return best;
}

/**
 * The MVTec evaluation's `trapezoid(x, y, x_max)`: keep the points with x ≤ x_max; if x_max is not
 * one of them, add the partial trapezoid up to x_max with y interpolated between its neighbours.
 * `x` must be non-decreasing.
 */
export function trapezoid(x: number[], y: number[], xMax: number): number {
  let correction = 0;
  if (!x.includes(xMax)) {
    const ins = x.findIndex((v) => v > xMax); // bisect_right
    const yAt = y[ins - 1] + ((y[ins] - y[ins - 1]) * (xMax - x[ins - 1])) / (x[ins] - x[ins - 1]);
    correction = 0.5 * (yAt + y[ins - 1]) * (xMax - x[ins - 1]);
  }
  let area = 0;
  for (let k = 1; k < x.length && x[k] <= xMax; k++) area += 0.5 * (y[k] + y[k - 1]) * (x[k] - x[k - 1]);
  return area + correction;
}

/** AUPRO from the full PRO curve, one pass over every pixel per distinct threshold. */
export function auproReference(maps: Float32Array[], masks: Uint8Array[], width: number, height: number, maxFpr = 0.3): number {
  const regions: number[][] = []; // pixel indices per region, per image
  const regionImage: number[] = [];
  masks.forEach((mask, k) => {
    const { labels, count } = labelComponents(width, height, (i) => mask[i] !== 0);
    for (let r = 1; r <= count; r++) {
      const pixels: number[] = [];
      labels.forEach((label, i) => {
        if (label === r) pixels.push(i);
      });
      regions.push(pixels);
      regionImage.push(k);
    }
  });
  const fprs = [0];
  const pros = [0];
  for (const t of distinctDescending(maps.flatMap((m) => Array.from(m)))) {
    let fp = 0;
    let negatives = 0;
    maps.forEach((map, k) =>
      map.forEach((s, i) => {
        if (masks[k][i] === 0) {
          negatives++;
          if (s >= t) fp++;
        }
      }),
    );
    let overlap = 0;
    regions.forEach((pixels, r) => {
      const map = maps[regionImage[r]];
      overlap += pixels.filter((i) => map[i] >= t).length / pixels.length;
    });
    fprs.push(fp / negatives);
    pros.push(Math.min(1, overlap / regions.length));
  }
  fprs.push(1);
  pros.push(1);
  return trapezoid(fprs, pros, maxFpr) / maxFpr;
}
