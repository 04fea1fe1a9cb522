/**
 * Memory check of a build before it is queued: the engine's peak estimate (`estimateBuildBytes`)
 * for this line's images and settings against MAX_BANK_BYTES, refused with the numbers.
 */
import { computeGeometry } from '../backbone/preprocess.js';
import type { BackboneManifest } from '../backbone/types.js';
import { appError, isAppError } from '../common/errors.js';
import { estimateBuildBytes, type EngineConfig } from '../engine/index.js';
import type { ImageRecord, LineConfig } from '../store/types.js';

export interface BuildEstimate {
  images: number;
  patchesPerImage: number;
  dim: number;
  bytes: number;
}

function featureStride(manifest: BackboneManifest): number {
  return manifest.output.kind === 'patchFeatures' ? manifest.output.stride : manifest.output.strides[0];
}

/** Patches per image from the crop geometry (the largest frame when `crop` is null). */
export function estimateBuild(images: readonly ImageRecord[], config: LineConfig, engineConfig: EngineConfig, manifest: BackboneManifest): BuildEstimate {
  const stride = featureStride(manifest);
  const dim = manifest.output.dim;
  let patchesPerImage = 0;
  for (const img of images) {
    try {
      const g = computeGeometry(img.width, img.height, { resize: config.resize, crop: config.crop });
      patchesPerImage = Math.max(patchesPerImage, Math.floor(g.cropWidth / stride) * Math.floor(g.cropHeight / stride));
    } catch (err) {
      if (!isAppError(err)) throw err; // an image smaller than the crop is skipped by the build
    }
  }
  return { images: images.length, patchesPerImage, dim, bytes: estimateBuildBytes(images.length, patchesPerImage, dim, engineConfig) };
}

const MB = 1024 * 1024;

export function assertWithinCapacity(estimate: BuildEstimate, maxBytes: number): void {
  if (estimate.bytes <= maxBytes) return;
  throw appError(
    'OVER_CAPACITY',
    [
      `The build needs about ${Math.ceil(estimate.bytes / MB)} MB (${estimate.images} images × ${estimate.patchesPerImage} patches × ${estimate.dim} dims), ` +
        `over MAX_BANK_BYTES = ${Math.floor(maxBytes / MB)} MB: lower crop/resize or coresetRatio, remove images or raise MAX_BANK_BYTES`,
    ],
    { estimatedBytes: estimate.bytes, maxBankBytes: maxBytes, images: estimate.images, patchesPerImage: estimate.patchesPerImage, dim: estimate.dim },
  );
}
