/**
 * Memory checks: a build's peak estimate (`estimateBuildBytes`) for this line's images and settings
 * against MAX_BANK_BYTES, and builds and bank loads against the process memory budget
 * (MEMORY_BUDGET_BYTES, by default 80 % of the container's memory limit), refused with the numbers
 * before the kernel's OOM killer would end the process.
 */
import { computeGeometry } from '../backbone/preprocess.js';
import { assertQuarterTurnable, type LearnedRotations, viewTurns } from '../backbone/rotate.js';
import type { BackboneManifest, ImageGeometry } from '../backbone/types.js';
import { appError, isAppError } from '../common/errors.js';
import { estimateBuildBytes, type EngineConfig } from '../engine/index.js';
import type { LoadedBank, Store } from '../store/index.js';
import type { BankMeta, ImageRecord, LineConfig } from '../store/types.js';

export interface BuildEstimate {
  images: number;
  /** Views learnt of each photo (`trainRotations`). */
  views: number;
  patchesPerImage: number;
  dim: number;
  bytes: number;
}

function featureStride(manifest: BackboneManifest): number {
  return manifest.output.kind === 'patchFeatures' ? manifest.output.stride : manifest.output.strides[0];
}

/**
 * Patches per image from the crop geometry (the largest frame when `crop` is null), with the views
 * `rotations` learns (by default the line's; `auto` counts as `none`, its turns are weighed by the
 * caller). Refuses quarter turns of frames that are not square before a build is queued.
 */
export function estimateBuild(
  images: readonly ImageRecord[],
  config: LineConfig,
  engineConfig: EngineConfig,
  manifest: BackboneManifest,
  rotations: LearnedRotations = config.trainRotations === 'auto' ? 'none' : config.trainRotations,
): BuildEstimate {
  const stride = featureStride(manifest);
  const dim = manifest.output.dim;
  let patchesPerImage = 0;
  const views = viewTurns(rotations);
  const quarterTurns = views.some((t) => t % 2 === 1);
  for (const img of images) {
    let g: ImageGeometry;
    try {
      g = computeGeometry(img.width, img.height, { resize: config.resize, crop: config.crop });
    } catch (err) {
      if (!isAppError(err)) throw err; // an image smaller than the crop is skipped by the build
      continue;
    }
    if (quarterTurns) assertQuarterTurnable(g.cropWidth, g.cropHeight);
    patchesPerImage = Math.max(patchesPerImage, Math.floor(g.cropWidth / stride) * Math.floor(g.cropHeight / stride));
  }
  // The build process spills the features to the line's tmp/ (store/feature-spill.ts).
  const bytes = estimateBuildBytes(images.length, patchesPerImage, dim, engineConfig, {
    featuresInMemory: false,
    secondCoreset: config.excludeSuspects,
    views: views.length,
  });
  return { images: images.length, views: views.length, patchesPerImage, dim, bytes };
}

const MB = 1024 * 1024;

/** The fast search's per-row index: 129 projected coordinates and a squared norm, float32. */
export const SEARCH_INDEX_BYTES_PER_ROW = 130 * 4;

/** The estimate with quarter turns, which `trainRotations: "auto"` may learn; null when the frames are not square. */
export function turnedEstimate(
  images: readonly ImageRecord[],
  config: LineConfig,
  engineConfig: EngineConfig,
  manifest: BackboneManifest,
): BuildEstimate | null {
  try {
    return estimateBuild(images, config, engineConfig, manifest, '90');
  } catch (err) {
    if (isAppError(err) && err.code === 'unprocessable') return null;
    throw err;
  }
}

export function assertWithinCapacity(estimate: BuildEstimate, maxBytes: number): void {
  if (estimate.bytes <= maxBytes) return;
  throw appError(
    'OVER_CAPACITY',
    [
      `The build needs about ${Math.ceil(estimate.bytes / MB)} MB (${estimate.images} images${estimate.views > 1 ? ` × ${estimate.views} views` : ''} × ${estimate.patchesPerImage} patches × ${estimate.dim} dims), ` +
        `over MAX_BANK_BYTES = ${Math.floor(maxBytes / MB)} MB: lower crop/resize, coresetRatio or trainRotations, remove images or raise MAX_BANK_BYTES`,
    ],
    {
      estimatedBytes: estimate.bytes,
      maxBankBytes: maxBytes,
      images: estimate.images,
      patchesPerImage: estimate.patchesPerImage,
      dim: estimate.dim,
    },
  );
}

/**
 * The process memory budget: what is resident now plus what an operation will add must fit.
 * `rss` is injectable for the tests.
 */
export class MemoryBudget {
  constructor(
    readonly budgetBytes: number,
    private readonly inspectWorkers: number,
    private readonly rss: () => number = () => process.memoryUsage().rss,
  ) {}

  /** A bank from the cache, or loaded when it fits the budget. */
  async loadBank(store: Store, lineId: string, version: number): Promise<LoadedBank> {
    if (!store.bankCache.has(lineId, version)) {
      this.assertFits(bankLoadBytes(await store.banks.meta(lineId, version), this.inspectWorkers), `Loading bank ${lineId}/${version}`);
    }
    return store.bankCache.get(lineId, version);
  }

  /** Whether `bytes` more fit the budget now. */
  fits(bytes: number): boolean {
    return this.rss() + bytes <= this.budgetBytes;
  }

  /** Throws MEMORY_BUDGET when `bytes` more would go past the budget. */
  assertFits(bytes: number, what: string): void {
    const resident = this.rss();
    if (resident + bytes <= this.budgetBytes) return;
    throw appError(
      'MEMORY_BUDGET',
      [
        `${what} needs about ${Math.ceil(bytes / MB)} MB with ${Math.ceil(resident / MB)} MB in use, over the memory budget of ${Math.floor(this.budgetBytes / MB)} MB (MEMORY_BUDGET_BYTES)`,
      ],
      { neededBytes: bytes, residentBytes: resident, budgetBytes: this.budgetBytes },
    );
  }
}

/** Memory a loaded bank takes: its shared arrays plus the search index of the main thread and each worker. */
export function bankLoadBytes(meta: BankMeta, inspectWorkers: number): number {
  const bytes = Object.values(meta.files).reduce((sum, f) => sum + f.bytes, 0);
  return bytes + (meta.rows.cls + (meta.rows.seg ?? 0)) * (inspectWorkers + 1) * SEARCH_INDEX_BYTES_PER_ROW;
}
