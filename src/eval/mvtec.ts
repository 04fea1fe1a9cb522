/**
 * MVTec AD folder layout (SOFTPATCH_SPEC.md §8, §9): listing a category in the official order and
 * loading its ground-truth masks at crop resolution, aligned with the network input.
 *
 *   <root>/train/good/*            clean training images
 *   <root>/test/<type>/*           test images, `good` is the normal type
 *   <root>/ground_truth/<type>/<stem>_mask.<ext>
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { appError } from '../common/errors.js';
import { alignedToFrame } from '../backbone/align.js';
import type { ImageGeometry } from '../backbone/types.js';

export const GOOD_TYPE = 'good';

/** Which resampled mask values count as defect: exactly 255 (official, erodes borders) or ≥ 128. */
export type GtRule = 'official' | 'half';

export interface MvtecImage {
  /** Absolute path. */
  path: string;
  /** Path relative to the category root with `/` separators, e.g. `test/broken_large/003.jpg`: the name written into results. */
  name: string;
}

export interface MvtecTestItem extends MvtecImage {
  type: string;
  anomalous: boolean;
  /** Absolute mask path; null for good images and for defect types without ground truth. */
  maskPath: string | null;
}

export interface MvtecCategory {
  root: string;
  category: string;
  train: MvtecImage[];
  /** Types sorted by name (good among them), files sorted by name within a type. */
  test: MvtecTestItem[];
  types: string[];
  /** Every anomalous test image has a mask, so pixel metrics can be computed. */
  pixelLevel: boolean;
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp']);

/** Python's `sorted()` on str: code-point order, not locale order. */
const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

async function listDir(dir: string, kind: 'files' | 'dirs', root: string): Promise<string[] | null> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw appError('DATASET_INVALID', [root, `cannot read ${dir}: ${(err as Error).message}`]);
  }
  return entries
    .filter((e) => !e.name.startsWith('.'))
    .filter((e) => (kind === 'dirs' ? e.isDirectory() : e.isFile() && IMAGE_EXTENSIONS.has(path.extname(e.name).toLowerCase())))
    .map((e) => e.name)
    .sort(byCodePoint);
}

const stem = (file: string): string => file.slice(0, file.length - path.extname(file).length);

/** List an MVTec-layout category in the official order. */
export async function listCategory(root: string): Promise<MvtecCategory> {
  const abs = path.resolve(root);
  const trainFiles = await listDir(path.join(abs, 'train', GOOD_TYPE), 'files', abs);
  if (trainFiles === null || trainFiles.length === 0) throw appError('DATASET_INVALID', [abs, 'no images in train/good']);
  const types = await listDir(path.join(abs, 'test'), 'dirs', abs);
  if (types === null || types.length === 0) throw appError('DATASET_INVALID', [abs, 'no folders in test/']);

  const test: MvtecTestItem[] = [];
  let pixelLevel = true;
  for (const type of types) {
    const files = (await listDir(path.join(abs, 'test', type), 'files', abs)) ?? [];
    const anomalous = type !== GOOD_TYPE;
    const masks = anomalous ? await listDir(path.join(abs, 'ground_truth', type), 'files', abs) : null;
    if (anomalous && masks === null) pixelLevel = false;
    const maskByStem = new Map((masks ?? []).map((m) => [stem(m), m]));
    for (const file of files) {
      let maskPath: string | null = null;
      if (masks !== null) {
        const mask = maskByStem.get(`${stem(file)}_mask`);
        if (mask === undefined)
          throw appError('DATASET_INVALID', [abs, `no mask ground_truth/${type}/${stem(file)}_mask.* for test/${type}/${file}`]);
        maskPath = path.join(abs, 'ground_truth', type, mask);
      }
      test.push({ path: path.join(abs, 'test', type, file), name: `test/${type}/${file}`, type, anomalous, maskPath });
    }
  }
  return {
    root: abs,
    category: path.basename(abs),
    train: trainFiles.map((file) => ({ path: path.join(abs, 'train', GOOD_TYPE, file), name: `train/${GOOD_TYPE}/${file}` })),
    test,
    types,
    pixelLevel,
  };
}

/**
 * Ground truth at crop resolution (spec §9): the mask is resized to the image's resized size with
 * an antialiased bilinear filter, the image's crop window is cut out, and a pixel is positive
 * (1) when its resampled value is 255 (`official`) or ≥ 128 (`half`). `maskPath` null (good
 * images) gives an all-zero mask. `geometry` is the one the backbone's preprocessing computed for
 * the mask's image (`computeGeometry`), so mask and map line up pixel for pixel.
 */
export async function loadGroundTruth(maskPath: string | null, geometry: ImageGeometry, gtRule: GtRule): Promise<Uint8Array> {
  const { cropLeft, cropTop, cropWidth, cropHeight, resizedWidth, resizedHeight } = geometry;
  const out = new Uint8Array(cropWidth * cropHeight);
  if (maskPath === null) return out;
  let img = sharp(maskPath);
  const meta = await img.metadata();
  if (meta.width !== geometry.originalWidth || meta.height !== geometry.originalHeight) {
    throw appError('DATASET_INVALID', [
      maskPath,
      `mask is ${meta.width}×${meta.height}, its image ${geometry.originalWidth}×${geometry.originalHeight}`,
    ]);
  }
  // Same size = Pillow's no-op resize; sharp's `linear` kernel widens with the reduction factor like Pillow's bilinear.
  if (resizedWidth !== meta.width || resizedHeight !== meta.height) {
    img = img.resize(resizedWidth, resizedHeight, { kernel: 'linear', fit: 'fill' });
  }
  const data = await img.extractChannel(0).raw().toBuffer();
  const cut = gtRule === 'official' ? 255 : 128;
  // An aligned image's mask is turned with it (nearest pixel: the rule's cut stays exact).
  const toFrame = geometry.pose ? alignedToFrame(geometry.pose, cropWidth, cropHeight) : (x: number, y: number) => [x, y];
  for (let y = 0; y < cropHeight; y++) {
    for (let x = 0; x < cropWidth; x++) {
      const [fx, fy] = toFrame(x + 0.5, y + 0.5);
      const sx = Math.floor(fx);
      const sy = Math.floor(fy);
      if (sx < 0 || sy < 0 || sx >= cropWidth || sy >= cropHeight) continue;
      out[y * cropWidth + x] = data[(sy + cropTop) * resizedWidth + cropLeft + sx] >= cut ? 1 : 0;
    }
  }
  return out;
}
