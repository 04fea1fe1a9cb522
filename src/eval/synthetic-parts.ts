/**
 * Synthetic part photos for the tests and the soak benchmark: no data set needed, every pixel
 * fixed by the seed.
 */
import sharp from 'sharp';

/** A defect painted on a part: a stain with a scratch, the square (x, y, size) of the image. */
export interface Defect {
  x: number;
  y: number;
  size: number;
}

/** Numbers in [0, 1) fixed by the seed (xorshift32), so every synthetic photo can be made again. */
export function seededRandom(seed: number): () => number {
  let s = (seed * 2654435761) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/**
 * A synthetic part photo (square `size`, or `width` × `height`): a grey, horizontally striped
 * background with a dark ring near the middle; brightness, stripe phase, ring position and pixel noise vary per seed; optionally a painted defect.
 */
export async function partImage(
  seed: number,
  opts: { size?: number; width?: number; height?: number; defect?: Defect; format?: 'png' | 'jpeg' } = {},
): Promise<Buffer> {
  const width = opts.width ?? opts.size ?? 128;
  const height = opts.height ?? opts.size ?? 128;
  const size = Math.min(width, height);
  const rand = seededRandom(seed);
  const gain = 0.95 + 0.1 * rand();
  const phase = (rand() - 0.5) * 1.2;
  const cx = width / 2 + (rand() - 0.5) * 3;
  const cy = height / 2 + (rand() - 0.5) * 3;
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const r = Math.hypot(x - cx, y - cy);
      let v = 140 + 25 * Math.sin((2 * Math.PI * y) / 12 + phase);
      if (r > size * 0.22 && r < size * 0.32) v = 55;
      v = v * gain + (rand() - 0.5) * 12;
      let rgb = [v, v * 0.97, v * 0.9];
      const d = opts.defect;
      if (d && x >= d.x && x < d.x + d.size && y >= d.y && y < d.y + d.size) {
        // A stain: darker and warmer, with a scratch across it.
        const onScratch = Math.abs(x - d.x - (y - d.y)) < 1.5;
        rgb = onScratch ? [30, 30, 30] : [rgb[0] * 0.75, rgb[1] * 0.6, rgb[2] * 0.45];
      }
      const o = 3 * (y * width + x);
      for (let k = 0; k < 3; k++) px[o + k] = Math.max(0, Math.min(255, Math.round(rgb[k])));
    }
  }
  const img = sharp(px, { raw: { width, height, channels: 3 } });
  return opts.format === 'jpeg' ? img.jpeg({ quality: 95 }).toBuffer() : img.png().toBuffer();
}

/** Side of a rod photo. */
export const ROD_PHOTO_SIZE = 128;
const SIZE = ROD_PHOTO_SIZE;

export interface Rod {
  seed: number;
  /** Direction from head to tip, degrees clockwise on screen. */
  angle: number;
  /** Middle of the rod's extent, pixels. */
  cx: number;
  cy: number;
  /** A bright stain this far along the rod from its middle (pixels), or none. */
  stainAt?: number;
}

/** The stain's position on the photo. */
export function stainCentre(rod: Rod): [number, number] {
  const a = (rod.angle * Math.PI) / 180;
  return [rod.cx + Math.cos(a) * (rod.stainAt ?? 0), rod.cy + Math.sin(a) * (rod.stainAt ?? 0)];
}

/**
 * A dark threaded rod with a wide head on a light, slightly noisy tray (greyscale PNG): a part in
 * the shape of a screw, drawn in its own coordinates (u along, v across) and turned and placed by `rod`.
 */
export async function rodPhoto(rod: Rod): Promise<Buffer> {
  const rand = seededRandom(rod.seed);
  const noise = (): number => rand() - 0.5;
  const a = (rod.angle * Math.PI) / 180;
  const [sx, sy] = stainCentre(rod);
  const px = Buffer.alloc(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const dx = x + 0.5 - rod.cx;
      const dy = y + 0.5 - rod.cy;
      const u = Math.cos(a) * dx + Math.sin(a) * dy;
      const v = -Math.sin(a) * dx + Math.cos(a) * dy;
      let g = 200 + 8 * noise();
      const head = u >= -40 && u < -33 && Math.abs(v) < 12;
      const shank = u >= -33 && u < 40 && Math.abs(v) < 5 - Math.max(0, u - 30) * 0.4;
      if (head || shank) g = u > 0 && Math.floor(u / 4) % 2 === 0 ? 50 : 95;
      if (rod.stainAt !== undefined && (x + 0.5 - sx) ** 2 + (y + 0.5 - sy) ** 2 < 5 * 5) g = 245;
      px[y * SIZE + x] = Math.max(0, Math.min(255, Math.round(g)));
    }
  }
  return sharp(px, { raw: { width: SIZE, height: SIZE, channels: 1 } })
    .png()
    .toBuffer();
}
