/**
 * Turned views of a training photo (`trainRotations`): a part that lies at any angle on the
 * station (a screw, a nut) shows each pose only in a few photos, so per-position denoising takes
 * the rare ones for noise and the bank misses them. The same photo turned by quarter turns adds
 * those poses at no labelling cost. Turns are exact pixel permutations of the prepared image, so a
 * view is the photo itself, only turned.
 */
import { appError } from '../common/errors.js';
import type { PreparedImage } from './types.js';

/**
 * `none`: the photos as uploaded; `180`: also turned by half a turn; `90`: by every quarter turn;
 * `auto`: `90` where the photos show the part at any angle, else `none` (`orientation.ts`).
 */
export const TRAIN_ROTATIONS = ['auto', 'none', '180', '90'] as const;
export type TrainRotations = (typeof TRAIN_ROTATIONS)[number];
/** The views a build learns once `auto` is decided. */
export const LEARNED_ROTATIONS = ['none', '180', '90'] as const;
export type LearnedRotations = (typeof LEARNED_ROTATIONS)[number];

/** Clockwise quarter turns of each view, view 0 (the photo as uploaded) first. */
export function viewTurns(rotations: LearnedRotations): number[] {
  return rotations === '90' ? [0, 1, 2, 3] : rotations === '180' ? [0, 2] : [0];
}

/** Refuses a quarter turn of a frame that is not square: a bank has a single patch grid. */
export function assertQuarterTurnable(width: number, height: number): void {
  if (width === height) return;
  throw appError('UNPROCESSABLE', [
    `trainRotations "90" needs square frames, these are ${width}×${height}: use "180", or set resize and crop to a square`,
  ]);
}

/**
 * The prepared image turned clockwise by `turns` quarter turns. An odd number of turns swaps width
 * and height, which a bank's single patch grid allows only for square frames.
 */
export function turnPrepared(img: PreparedImage, turns: number): PreparedImage {
  const t = ((turns % 4) + 4) % 4;
  if (t === 0) return img;
  const { width: w, height: h } = img;
  if (t % 2 === 1) assertQuarterTurnable(w, h);
  const ow = t === 2 ? w : h;
  const oh = t === 2 ? h : w;
  const plane = w * h;
  const data = new Float32Array(img.data.length);
  for (let c = 0; c < 3; c++) {
    const src = img.data.subarray(c * plane, (c + 1) * plane);
    const dst = data.subarray(c * plane, (c + 1) * plane);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        // Clockwise: (x, y) goes to (h−1−y, x) for a quarter turn, (w−1−x, h−1−y) for a half one.
        const o = t === 1 ? x * ow + (h - 1 - y) : t === 2 ? (h - 1 - y) * ow + (w - 1 - x) : (w - 1 - x) * ow + y;
        dst[o] = src[y * w + x];
      }
    }
  }
  const g = img.geometry;
  const geometry = t === 2 ? g : { ...g, cropWidth: g.cropHeight, cropHeight: g.cropWidth };
  return { data, width: ow, height: oh, geometry };
}
