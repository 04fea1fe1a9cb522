/** Training features held in memory (the eval, tests): the `TrainingFeatures` of a list of arrays. */
import { appError } from '../common/errors.js';
import type { TrainingFeatures } from './types.js';

/** `images` photo-major: with `views` > 1, image b's view v is `images[b · views + v]`. */
export function featuresInMemory(
  images: readonly Float32Array[],
  grid: { h: number; w: number },
  dim: number,
  views = 1,
): TrainingFeatures {
  if (!(Number.isInteger(views) && views > 0) || images.length % views !== 0) {
    throw appError('ENGINE_INPUT', [`${images.length} feature arrays are not whole photos of ${views} views each`]);
  }
  return { count: images.length / views, views, grid, dim, read: async (b, v = 0) => images[b * views + v], resident: true };
}
