/**
 * Noisy training sets (SOFTPATCH_SPEC.md §8): anomalous test images injected into the clean
 * training set, drawn reproducibly with the project's seeded PRNG.
 */
import { appError } from '../common/errors.js';
import { createRng } from '../engine/index.js';
import type { MvtecCategory, MvtecImage, MvtecTestItem } from './mvtec.js';

/**
 * How the noise ratio r becomes n_noise (G = clean training images, n_A = anomalous test images):
 * `ratioOfClean` floor(r·G), the official meaning; `cap` the same but leaving at least one anomaly
 * in a no-overlap test set; `ratioOfFinal` floor(r·G/(1 − r)) so that r is the share of the final set.
 */
export const NOISE_MODES = ['ratioOfClean', 'cap', 'ratioOfFinal'] as const;
export type NoiseMode = (typeof NOISE_MODES)[number];

export interface NoiseOptions {
  ratio: number;
  mode: NoiseMode;
  /** true: injected images stay in the test set too; false (official default): they leave it. */
  overlap: boolean;
  seed: number;
}

export interface NoisySplit {
  /** The clean training images, then the injected ones in draw order. */
  train: MvtecImage[];
  test: MvtecTestItem[];
  /** Names of the injected test images in draw order (write them into results to repeat a run). */
  injected: string[];
}

/** n_noise for a mode; throws when the modes that do not cap ask for more anomalies than exist. */
export function noiseCount(ratio: number, clean: number, anomalies: number, mode: NoiseMode, overlap: boolean): number {
  if (!(ratio >= 0) || !Number.isFinite(ratio)) throw appError('EVAL_INPUT', [`noise ratio must be ≥ 0, got ${ratio}`]);
  // Math.trunc of the same double product as Python's int(noise * len(train)).
  const ofClean = Math.trunc(ratio * clean);
  let n: number;
  switch (mode) {
    case 'ratioOfClean':
      n = ofClean;
      break;
    case 'cap':
      return Math.max(0, Math.min(ofClean, overlap ? anomalies : anomalies - 1));
    case 'ratioOfFinal':
      if (ratio >= 1) throw appError('EVAL_INPUT', [`noise ratio must be < 1 in mode ratioOfFinal, got ${ratio}`]);
      n = Math.trunc((ratio * clean) / (1 - ratio));
      break;
  }
  if (n > anomalies) throw appError('NOISE_TOO_LARGE', [n, ratio, mode, anomalies]);
  return n;
}

/**
 * Draw the injected images: the anomalous test images in canonical test order, a partial
 * Fisher–Yates shuffle (for i < n: j = i + floor(U·(n_A − i)), swap A[i], A[j]) and A[0..n−1].
 */
export function drawNoisySplit(category: Pick<MvtecCategory, 'train' | 'test'>, options: NoiseOptions): NoisySplit {
  const anomalies = category.test.filter((item) => item.anomalous);
  const n = noiseCount(options.ratio, category.train.length, anomalies.length, options.mode, options.overlap);
  const rng = createRng(options.seed);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rng.next() * (anomalies.length - i));
    [anomalies[i], anomalies[j]] = [anomalies[j], anomalies[i]];
  }
  const drawn = anomalies.slice(0, n);
  const drawnSet = new Set(drawn);
  return {
    train: [...category.train, ...drawn.map(({ path, name }) => ({ path, name }))],
    test: options.overlap ? [...category.test] : category.test.filter((item) => !drawnSet.has(item)),
    injected: drawn.map((item) => item.name),
  };
}
