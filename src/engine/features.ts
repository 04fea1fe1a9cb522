/** Training features held in memory (the eval, tests): the `TrainingFeatures` of a list of arrays. */
import type { TrainingFeatures } from './types.js';

export function featuresInMemory(images: readonly Float32Array[], grid: { h: number; w: number }, dim: number): TrainingFeatures {
  return { count: images.length, grid, dim, read: async (b) => images[b], resident: true };
}
