/**
 * Image decoding and geometry with sharp: EXIF orientation, grey → RGB, alpha dropped, shorter
 * side resized (bilinear, antialiased), centre crop, planar float32 RGB 0..255.
 * The geometry is returned so that a score grid can be mapped back onto the original photo.
 */
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { appError, isAppError } from '../common/errors.js';
import { alignPrepared } from './align.js';
import type { ImageGeometry, PreparedImage, PreprocessOptions } from './types.js';

/** Formats a station may send (guide §2.3); sharp's names. */
export const ACCEPTED_FORMATS: ReadonlySet<string> = new Set(['png', 'jpeg', 'webp', 'tiff', 'bmp']);

export interface ImageInfo {
  format: string;
  /** Size after EXIF orientation. */
  width: number;
  height: number;
}

/** Python's round(): half to even (torchvision's centre-crop offsets use it). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision geometry: shorter side → `resize` (long side floored), centre crop with half-even offsets. */
export function computeGeometry(width: number, height: number, opts: PreprocessOptions): ImageGeometry {
  let rw = width;
  let rh = height;
  if (opts.resize !== null) {
    if (width <= height) {
      rw = opts.resize;
      rh = Math.floor((opts.resize * height) / width);
    } else {
      rh = opts.resize;
      rw = Math.floor((opts.resize * width) / height);
    }
  }
  const cw = opts.crop === null ? rw : opts.crop;
  const ch = opts.crop === null ? rh : opts.crop;
  if (cw > rw || ch > rh) throw appError('UNPROCESSABLE', [`crop ${opts.crop} is larger than the resized image ${rw}×${rh}`]);
  return {
    originalWidth: width,
    originalHeight: height,
    resizedWidth: rw,
    resizedHeight: rh,
    cropLeft: roundHalfEven((rw - cw) / 2),
    cropTop: roundHalfEven((rh - ch) / 2),
    cropWidth: cw,
    cropHeight: ch,
  };
}

function sharpErrorToApp(err: unknown): never {
  if (isAppError(err)) throw err;
  const msg = err instanceof Error ? err.message : String(err);
  if (/pixel limit/i.test(msg)) throw appError('TOO_MANY_PIXELS', ['more', 'the limit']);
  if (/unsupported image format/i.test(msg)) throw appError('UNSUPPORTED_MEDIA_TYPE', ['(unrecognised bytes)']);
  throw appError('UNDECODABLE_IMAGE', [msg]);
}

/** Format and oriented size, with the allow-list and the pixel limit enforced; does not decode pixels. */
export async function probeImage(bytes: Buffer, maxPixels: number): Promise<ImageInfo> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { failOn: 'error' }).metadata();
  } catch (err) {
    sharpErrorToApp(err);
  }
  const format = meta.format ?? 'unknown';
  if (!ACCEPTED_FORMATS.has(format)) throw appError('UNSUPPORTED_MEDIA_TYPE', [format]);
  if (!meta.width || !meta.height) throw appError('UNDECODABLE_IMAGE', ['no image size in the header']);
  const swap = (meta.orientation ?? 1) >= 5;
  const width = swap ? meta.height : meta.width;
  const height = swap ? meta.width : meta.height;
  if (width * height > maxPixels) throw appError('TOO_MANY_PIXELS', [width * height, maxPixels]);
  return { format, width, height };
}

/** Decode, orient, resize, crop, and with `align` turn the part onto its axis; planar float32 RGB (C, H, W) in 0..255. */
export async function prepareImage(bytes: Buffer, opts: PreprocessOptions): Promise<PreparedImage> {
  const maxPixels = opts.maxPixels ?? 50_000_000;
  const info = await probeImage(bytes, maxPixels);
  const geometry = computeGeometry(info.width, info.height, opts);
  let raw: { data: Buffer; info: OutputInfo };
  try {
    let img = sharp(bytes, { failOn: 'error', limitInputPixels: maxPixels }).rotate().removeAlpha().toColourspace('srgb');
    if (geometry.resizedWidth !== info.width || geometry.resizedHeight !== info.height) {
      img = img.resize(geometry.resizedWidth, geometry.resizedHeight, { fit: 'fill', kernel: 'linear' });
    }
    if (geometry.cropWidth !== geometry.resizedWidth || geometry.cropHeight !== geometry.resizedHeight) {
      img = img.extract({ left: geometry.cropLeft, top: geometry.cropTop, width: geometry.cropWidth, height: geometry.cropHeight });
    }
    raw = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (err) {
    sharpErrorToApp(err);
  }
  const { width, height, channels } = raw.info;
  if (width !== geometry.cropWidth || height !== geometry.cropHeight || channels < 3) {
    throw appError('UNDECODABLE_IMAGE', [
      `decoded ${width}×${height}×${channels}, expected ${geometry.cropWidth}×${geometry.cropHeight}×3`,
    ]);
  }
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  const src = raw.data;
  for (let p = 0, s = 0; p < plane; p++, s += channels) {
    data[p] = src[s];
    data[plane + p] = src[s + 1];
    data[2 * plane + p] = src[s + 2];
  }
  const prepared = { data, width, height, geometry };
  return opts.align === 'axis' ? alignPrepared(prepared) : prepared;
}
