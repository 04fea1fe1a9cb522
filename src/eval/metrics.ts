/**
 * Evaluation metrics of SOFTPATCH_SPEC.md §9: AUROC (rank formula), AUPRO up to an FPR limit (MVTec
 * AD evaluation semantics), F1 and accuracy. Pixel metrics run over millions of scores, so every
 * sort here is a native typed-array sort (no arrays of objects, no comparator on the big arrays).
 * Plain, slow versions of the same definitions live in metrics-reference.ts; tests compare them.
 */
import { appError } from '../common/errors.js';
import { labelComponents } from '../render/components.js';

/** Ground-truth labels: 1 / true = anomalous (positive), 0 / false = normal. Any non-zero number counts as 1. */
export type Labels = ArrayLike<number> | ArrayLike<boolean>;

export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export interface F1Result {
  f1: number;
  /** Predict anomalous when score ≥ threshold. */
  threshold: number;
  precision: number;
  recall: number;
}

function checkPairs(scores: ArrayLike<number>, labels: Labels): void {
  if (scores.length !== labels.length) {
    throw appError('EVAL_INPUT', [`${scores.length} scores but ${labels.length} labels`]);
  }
  if (scores.length === 0) throw appError('EVAL_INPUT', ['no scores']);
}

/** Scores of the positives and of the negatives, each sorted ascending. */
function sortedByClass(scores: ArrayLike<number>, labels: Labels): { pos: Float64Array; neg: Float64Array } {
  checkPairs(scores, labels);
  let nPos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) nPos++;
  const pos = new Float64Array(nPos);
  const neg = new Float64Array(scores.length - nPos);
  let p = 0;
  let q = 0;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (Number.isNaN(s)) throw appError('EVAL_INPUT', [`score ${i} is NaN`]);
    if (labels[i]) pos[p++] = s;
    else neg[q++] = s;
  }
  pos.sort();
  neg.sort();
  return { pos, neg };
}

/**
 * AUROC = (R_pos − n_pos(n_pos + 1)/2) / (n_pos·n_neg), R_pos the sum of the 1-based ranks of the
 * positives with ties given their average rank (equal to scikit-learn's `roc_auc_score`).
 * Ranks come from a merge of the two sorted classes. Throws when a class is empty (undefined).
 */
export function auroc(scores: ArrayLike<number>, labels: Labels): number {
  const { pos, neg } = sortedByClass(scores, labels);
  if (pos.length === 0 || neg.length === 0) {
    throw appError('EVAL_INPUT', [`AUROC needs both classes (${pos.length} positives, ${neg.length} negatives)`]);
  }
  let i = 0; // next negative
  let j = 0; // next positive
  let before = 0; // scores ranked below the current tie group
  let rankSum = 0;
  while (j < pos.length) {
    const v = i < neg.length && neg[i] < pos[j] ? neg[i] : pos[j];
    let cn = 0;
    while (i < neg.length && neg[i] === v) {
      i++;
      cn++;
    }
    let cp = 0;
    while (j < pos.length && pos[j] === v) {
      j++;
      cp++;
    }
    // Ranks before+1 … before+cn+cp share their mean.
    rankSum += cp * (before + (cn + cp + 1) / 2);
    before += cn + cp;
  }
  const nPos = pos.length;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * neg.length);
}

/**
 * Best F1 over every distinct score used as threshold (predict positive if score ≥ t). Ties in the
 * maximum keep the highest threshold. Without positives F1 is 0 everywhere and the threshold is
 * the highest score.
 */
export function f1Max(scores: ArrayLike<number>, labels: Labels): F1Result {
  const { pos, neg } = sortedByClass(scores, labels);
  const nPos = pos.length;
  let i = neg.length - 1;
  let j = pos.length - 1;
  let tp = 0;
  let fp = 0;
  let best: F1Result = { f1: -1, threshold: Number.NaN, precision: 0, recall: 0 };
  while (i >= 0 || j >= 0) {
    const v = j >= 0 && (i < 0 || pos[j] >= neg[i]) ? pos[j] : neg[i];
    while (i >= 0 && neg[i] === v) {
      i--;
      fp++;
    }
    while (j >= 0 && pos[j] === v) {
      j--;
      tp++;
    }
    // 2PR/(P+R) written without the divisions that are 0/0 when tp = 0.
    const f1 = (2 * tp) / (tp + fp + nPos);
    if (f1 > best.f1) best = { f1, threshold: v, precision: tp / (tp + fp), recall: nPos === 0 ? 0 : tp / nPos };
  }
  return best;
}

/** Confusion counts when predicting positive for score ≥ threshold. */
export function confusionAt(scores: ArrayLike<number>, labels: Labels, threshold: number): Confusion {
  checkPairs(scores, labels);
  const c: Confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < scores.length; i++) {
    const predicted = scores[i] >= threshold;
    if (labels[i]) {
      if (predicted) c.tp++;
      else c.fn++;
    } else if (predicted) c.fp++;
    else c.tn++;
  }
  return c;
}

/** F1 at a fixed threshold (0 when there is no true positive). */
export function f1At(scores: ArrayLike<number>, labels: Labels, threshold: number): number {
  const c = confusionAt(scores, labels, threshold);
  return (2 * c.tp) / (2 * c.tp + c.fp + c.fn) || 0;
}

/** Share of correct decisions at a fixed threshold. */
export function accuracyAt(scores: ArrayLike<number>, labels: Labels, threshold: number): number {
  const c = confusionAt(scores, labels, threshold);
  return (c.tp + c.tn) / scores.length;
}

function checkMaps(maps: Float32Array[], masks: Uint8Array[], width: number, height: number, maxFpr: number): void {
  if (maps.length !== masks.length) throw appError('EVAL_INPUT', [`${maps.length} maps but ${masks.length} masks`]);
  if (maps.length === 0) throw appError('EVAL_INPUT', ['no maps']);
  if (!(maxFpr > 0 && maxFpr <= 1)) throw appError('EVAL_INPUT', [`maxFpr must be in (0, 1], got ${maxFpr}`]);
  const n = width * height;
  for (let k = 0; k < maps.length; k++) {
    if (maps[k].length !== n || masks[k].length !== n) {
      throw appError('EVAL_INPUT', [`map/mask ${k} has ${maps[k].length}/${masks[k].length} values, expected ${width}×${height}`]);
    }
  }
}

/**
 * Area under the per-region-overlap curve up to FPR `maxFpr`, divided by `maxFpr` (MVTec AD
 * `compute_pro` + `trapezoid`, spec §9): regions are the 8-connected components of every mask
 * (non-zero = defect); the negatives are all other pixels of all images; the threshold sweeps
 * every distinct score, keeping one curve point per tie group; the curve starts at (0, 0), ends
 * at (1, 1), and the PRO at `maxFpr` is interpolated linearly when it is not a curve point.
 */
export function aupro(maps: Float32Array[], masks: Uint8Array[], width: number, height: number, maxFpr = 0.3): number {
  checkMaps(maps, masks, width, height, maxFpr);
  const components = masks.map((mask) => labelComponents(width, height, (i) => mask[i] !== 0));
  let regions = 0;
  let nPos = 0;
  for (const c of components) {
    regions += c.count;
    for (let r = 1; r <= c.count; r++) nPos += c.sizes[r];
  }
  const nNeg = maps.length * width * height - nPos;
  if (regions === 0 || nNeg === 0) {
    throw appError('EVAL_INPUT', [`AUPRO needs defect regions and normal pixels (${regions} regions, ${nNeg} normal pixels)`]);
  }

  // Negatives: sorted scores. Positives: scores with the PRO each pixel adds, 1/(regions·|region|).
  const neg = new Float32Array(nNeg);
  const posScore = new Float32Array(nPos);
  const posGain = new Float64Array(nPos);
  let q = 0;
  let p = 0;
  for (let k = 0; k < maps.length; k++) {
    const map = maps[k];
    const { labels, sizes } = components[k];
    for (let i = 0; i < map.length; i++) {
      const s = map[i];
      if (Number.isNaN(s)) throw appError('EVAL_INPUT', [`map ${k} has a NaN at ${i}`]);
      const label = labels[i];
      if (label === 0) neg[q++] = s;
      else {
        posScore[p] = s;
        posGain[p++] = 1 / (regions * sizes[label]);
      }
    }
  }
  neg.sort();
  // Descending by score; positives are the minority of pixels, so a comparator sort is affordable.
  const order = new Uint32Array(nPos);
  for (let i = 0; i < nPos; i++) order[i] = i;
  order.sort((a, b) => posScore[b] - posScore[a]);

  let x0 = 0; // curve starts at (0, 0)
  let y0 = 0;
  let area = 0;
  let done = false;
  const addPoint = (x1: number, y1: number): void => {
    if (done) return;
    if (x1 <= maxFpr) {
      area += 0.5 * (y0 + y1) * (x1 - x0);
      x0 = x1;
      y0 = y1;
      return;
    }
    if (x0 !== maxFpr) {
      const yAt = y0 + ((y1 - y0) * (maxFpr - x0)) / (x1 - x0);
      area += 0.5 * (yAt + y0) * (maxFpr - x0);
    }
    done = true;
  };

  let i = nNeg - 1;
  let j = 0;
  let fpCount = 0;
  let pro = 0;
  while (!done && (i >= 0 || j < nPos)) {
    const top = j < nPos ? posScore[order[j]] : Number.NEGATIVE_INFINITY;
    const v = i >= 0 && neg[i] > top ? neg[i] : top;
    while (i >= 0 && neg[i] === v) {
      i--;
      fpCount++;
    }
    while (j < nPos && posScore[order[j]] === v) pro += posGain[order[j++]];
    addPoint(fpCount / nNeg, Math.min(pro, 1));
  }
  addPoint(1, 1);
  return area / maxFpr;
}
