/**
 * Where the denoising removed a training photo's patches: the photo (EXIF-oriented, original size)
 * with removed patch cells tinted and outlined, and the area outside the crop window (never seen
 * by the bank) dimmed. Patch cell (i, j) of an h × w grid covers the crop window's share
 * [j·cropWidth/w, (j+1)·cropWidth/w) in resized coordinates (of the aligned frame when the part
 * was aligned), mapped back like the heatmaps.
 */
import sharp from 'sharp';
import { appError } from '../common/errors.js';
import { frameToAligned } from '../backbone/align.js';
import type { ImageGeometry } from '../backbone/types.js';

const TINT: readonly [number, number, number] = [255, 48, 96];
const TINT_ALPHA = 110;
const EDGE_ALPHA = 235;
const OUTSIDE_ALPHA = 120;

/** Grid cell of each original pixel along one axis, or −1 outside the crop window. */
function cellsAlong(n: number, cropStart: number, cropSize: number, scale: number, cells: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const u = ((i + 0.5) / scale - cropStart) / (cropSize / cells);
    out[i] = u < 0 || u >= cells ? -1 : Math.floor(u);
  }
  return out;
}

/** Grid cell (row-major) of original pixel (x, y), or −1 outside the crop window. */
function cellOf(grid: { h: number; w: number }, g: ImageGeometry): (x: number, y: number) => number {
  const W = g.originalWidth;
  const H = g.originalHeight;
  if (g.pose) {
    const toAligned = frameToAligned(g.pose, g.cropWidth, g.cropHeight);
    const kx = g.resizedWidth / W;
    const ky = g.resizedHeight / H;
    return (x, y) => {
      const [X, Y] = toAligned((x + 0.5) * kx - g.cropLeft, (y + 0.5) * ky - g.cropTop);
      const i = Math.floor(X / (g.cropWidth / grid.w));
      const j = Math.floor(Y / (g.cropHeight / grid.h));
      return i < 0 || j < 0 || i >= grid.w || j >= grid.h ? -1 : j * grid.w + i;
    };
  }
  const xs = cellsAlong(W, g.cropLeft, g.cropWidth, W / g.resizedWidth, grid.w);
  const ys = cellsAlong(H, g.cropTop, g.cropHeight, H / g.resizedHeight, grid.h);
  return (x, y) => (xs[x] < 0 || ys[y] < 0 ? -1 : ys[y] * grid.w + xs[x]);
}

/** RGBA layer at the original size: the removed cells of `mask` (grid row-major, 1 = removed). */
export function removalLayer(mask: Uint8Array, grid: { h: number; w: number }, g: ImageGeometry): Buffer {
  if (mask.length !== grid.h * grid.w) throw appError('INTERNAL', [`removal mask has ${mask.length} cells for ${grid.h}×${grid.w}`]);
  const W = g.originalWidth;
  const H = g.originalHeight;
  const cell = cellOf(grid, g);
  const state = (x: number, y: number): number => {
    if (x < 0 || y < 0 || x >= W || y >= H) return -1;
    const c = cell(x, y);
    return c < 0 ? -1 : mask[c];
  };
  const out = Buffer.alloc(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = 4 * (y * W + x);
      const s = state(x, y);
      if (s < 0) {
        out[o + 3] = OUTSIDE_ALPHA;
      } else if (s === 1) {
        const edge = state(x - 1, y) !== 1 || state(x + 1, y) !== 1 || state(x, y - 1) !== 1 || state(x, y + 1) !== 1;
        out[o] = TINT[0];
        out[o + 1] = TINT[1];
        out[o + 2] = TINT[2];
        out[o + 3] = edge ? EDGE_ALPHA : TINT_ALPHA;
      }
    }
  }
  return out;
}

/** The photo with its removed patches drawn on it, as a PNG; `maxSide` shrinks it to a thumbnail. */
export async function renderRemovalPng(
  photoBytes: Buffer,
  mask: Uint8Array,
  grid: { h: number; w: number },
  geometry: ImageGeometry,
  maxSide?: number,
): Promise<Buffer> {
  const photo = sharp(photoBytes).autoOrient();
  const { width, height } = (await photo.metadata()).autoOrient;
  if (width !== geometry.originalWidth || height !== geometry.originalHeight) {
    throw appError('INTERNAL', [
      `photo is ${width}×${height} but the geometry expects ${geometry.originalWidth}×${geometry.originalHeight}`,
    ]);
  }
  const composed = await photo
    .removeAlpha()
    .composite([{ input: removalLayer(mask, grid, geometry), raw: { width, height, channels: 4 } }])
    .png()
    .toBuffer();
  if (maxSide === undefined || Math.max(width, height) <= maxSide) return sharp(composed).removeAlpha().png().toBuffer();
  return sharp(composed).resize(maxSide, maxSide, { fit: 'inside' }).removeAlpha().png().toBuffer();
}
