/**
 * Memory estimate of a build, checked against MAX_BANK_BYTES before the build is queued. It counts
 * what the engine holds at its peak: the 1024-d training features, the two 128-d projections
 * (discriminator and coreset), per-patch scalars (score, weight, mask, min-distance) and the
 * memory rows (one bank, two for softpatch+).
 */
import { computeGeometry } from '../backbone/preprocess.js';
import type { BackboneManifest } from '../backbone/types.js';
import { appError, isAppError } from '../common/errors.js';
import type { ImageRecord, LineConfig } from '../store/types.js';

const PROJECTION_DIM = 128;
const PER_PATCH_SCALARS = 4;

export interface BuildEstimate {
  images: number;
  patches: number;
  dim: number;
  bankRows: number;
  bytes: number;
}

export function featureStride(manifest: BackboneManifest): number {
  return manifest.output.kind === 'patchFeatures' ? manifest.output.stride : manifest.output.strides[0];
}

export function estimateBuild(images: readonly ImageRecord[], config: LineConfig, manifest: BackboneManifest): BuildEstimate {
  const stride = featureStride(manifest);
  const dim = manifest.output.dim;
  let patches = 0;
  for (const img of images) {
    try {
      const g = computeGeometry(img.width, img.height, { resize: config.resize, crop: config.crop });
      patches += Math.floor(g.cropWidth / stride) * Math.floor(g.cropHeight / stride);
    } catch (err) {
      if (!isAppError(err)) throw err; // an image smaller than the crop is skipped by the build
    }
  }
  const banks = config.method === 'softpatch+' ? 2 : 1;
  const bankRows = Math.floor(config.coresetRatio * patches) * banks;
  const bytes = patches * 4 * (dim + 2 * PROJECTION_DIM + PER_PATCH_SCALARS) + bankRows * (4 * dim + 8);
  return { images: images.length, patches, dim, bankRows, bytes };
}

const MB = 1024 * 1024;

export function assertWithinCapacity(estimate: BuildEstimate, maxBytes: number): void {
  if (estimate.bytes <= maxBytes) return;
  throw appError(
    'OVER_CAPACITY',
    [
      `The build needs about ${Math.ceil(estimate.bytes / MB)} MB (${estimate.images} images, ${estimate.patches} patches × ${estimate.dim} dims), ` +
        `over MAX_BANK_BYTES = ${Math.floor(maxBytes / MB)} MB: lower crop/resize, remove images or raise MAX_BANK_BYTES`,
    ],
    { estimatedBytes: estimate.bytes, maxBankBytes: maxBytes, images: estimate.images, patches: estimate.patches, dim: estimate.dim },
  );
}
