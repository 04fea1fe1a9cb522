/**
 * Part alignment (`align`): a loose part (a screw, a pin, a bolt) lies at any angle and anywhere on
 * the tray, so the same place on the part falls on a different patch position in every photo. The
 * per-position discriminators and the bank both assume that a position shows the same thing
 * across photos; turning and shifting each photo so that the part lies the same way restores that
 * assumption, and a few dozen photos then cover the part (docs/BENCHMARKS.md, issue 15).
 *
 * The pose is classical blob analysis on the prepared frame: the part is what differs from the
 * background (the median of the frame's border), its axis the principal axis of that difference,
 * the wider end (a screw's head) goes to the left, and the middle of its extent to the frame's
 * centre. Coordinates are continuous pixel edges: pixel i covers [i, i + 1).
 */
import type { PartPose, PreparedImage } from './types.js';

/** `none`: the photo as uploaded; `axis`: the part turned onto its principal axis and centred. */
export const ALIGNMENTS = ['none', 'axis'] as const;
export type Alignment = (typeof ALIGNMENTS)[number];

/**
 * A pixel belongs to the part when it differs from the background by more than this share of the
 * frame's strong differences (its 99.5th percentile): relative, so that dark parts on light trays
 * and light parts on dark ones, at any contrast, are found alike; high enough that shading and
 * vignetting of the tray stay out.
 */
const PART_SHARE = 0.35;
/** Below this difference (0..255 grey levels) nothing is a part: a blank frame is left as it is. */
const MIN_CONTRAST = 12;
/** Share of the part's pixels ignored at each end of its extent (specks of dust on the tray). */
const EXTENT_TRIM = 0.002;

const IDENTITY = (w: number, h: number): PartPose => ({ cx: w / 2, cy: h / 2, angle: 0 });

/** Value at rank `q` (0..1) of `values` (typed sort: numeric, and several times faster than a comparator). */
function quantile(values: Float32Array | Float64Array, q: number): number {
  const s = values.slice().sort();
  return s[Math.floor(q * (s.length - 1))];
}

/**
 * `quantile` of grey-level differences (0..255) to a quarter of a level, by counting: a frame has
 * tens of thousands of pixels, and sorting them would cost more than the turn itself.
 */
function levelQuantile(values: Float32Array, q: number): number {
  const BINS_PER_LEVEL = 4;
  const counts = new Uint32Array(256 * BINS_PER_LEVEL + 1);
  for (let i = 0; i < values.length; i++) counts[Math.min(counts.length - 1, Math.floor(values[i] * BINS_PER_LEVEL))]++;
  const rank = Math.floor(q * (values.length - 1));
  for (let b = 0, seen = 0; b < counts.length; b++) {
    seen += counts[b];
    if (seen > rank) return b / BINS_PER_LEVEL;
  }
  return 255;
}

/** Indices of the frame's border pixels. */
function borderIndices(w: number, h: number): Int32Array {
  const out = new Int32Array(2 * w + 2 * Math.max(0, h - 2));
  let k = 0;
  for (let x = 0; x < w; x++) {
    out[k++] = x;
    out[k++] = (h - 1) * w + x;
  }
  for (let y = 1; y < h - 1; y++) {
    out[k++] = y * w;
    out[k++] = y * w + w - 1;
  }
  return out;
}

/** Median of `plane` over the border: the tray's level. */
function borderMedian(plane: Float32Array, border: Int32Array): number {
  return quantile(
    Float32Array.from(border, (i) => plane[i]),
    0.5,
  );
}

/** The part's pixels (centres, weights: how far beyond the cut they differ from the tray) and their moments. */
interface PartMoments {
  px: Float64Array;
  py: Float64Array;
  pw: Float32Array;
  /** Weighted centroid. */
  mx: number;
  my: number;
  /** Weighted central second moments. */
  u20: number;
  u02: number;
  u11: number;
}

/** Blob analysis of a prepared image; null on a blank frame (no difference from the tray). */
function partMoments(img: PreparedImage): PartMoments | null {
  const { width: w, height: h } = img;
  const plane = w * h;
  const grey = new Float32Array(plane);
  for (let p = 0; p < plane; p++) grey[p] = (img.data[p] + img.data[plane + p] + img.data[2 * plane + p]) / 3;
  const bg = borderMedian(grey, borderIndices(w, h));
  // Weight of a pixel: how far beyond the cut it differs from the tray (0: not the part).
  const weight = grey;
  for (let p = 0; p < plane; p++) weight[p] = Math.abs(grey[p] - bg);
  const strong = levelQuantile(weight, 0.995);
  if (strong < MIN_CONTRAST) return null;
  const cut = PART_SHARE * strong;
  const part: number[] = [];
  for (let p = 0; p < plane; p++) if (weight[p] > cut) part.push(p);
  const n = part.length;
  const px = new Float64Array(n);
  const py = new Float64Array(n);
  const pw = new Float32Array(n); // grey-level precision, as the frame itself
  let m = 0;
  let mx = 0;
  let my = 0;
  for (let k = 0; k < n; k++) {
    px[k] = (part[k] % w) + 0.5;
    py[k] = Math.floor(part[k] / w) + 0.5;
    pw[k] = weight[part[k]] - cut;
    m += pw[k];
    mx += pw[k] * px[k];
    my += pw[k] * py[k];
  }
  mx /= m;
  my /= m;
  let u20 = 0;
  let u02 = 0;
  let u11 = 0;
  for (let k = 0; k < n; k++) {
    const dx = px[k] - mx;
    const dy = py[k] - my;
    u20 += pw[k] * dx * dx;
    u02 += pw[k] * dy * dy;
    u11 += pw[k] * dx * dy;
  }
  return { px, py, pw, mx, my, u20, u02, u11 };
}

/** The direction of a part's principal axis and how clearly it has one. */
export interface PartAxis {
  /** Radians, clockwise on screen from +x, in (−π/2, π/2]: an axis, so θ and θ + π are the same. */
  angle: number;
  /** √(λ₁/λ₂) of the second moments: 1 for a round part, about 6 for a screw. */
  elongation: number;
}

/** The part's principal axis (null on a blank frame). */
export function partAxis(img: PreparedImage): PartAxis | null {
  const mo = partMoments(img);
  if (mo === null) return null;
  const { u20, u02, u11 } = mo;
  const half = Math.hypot((u20 - u02) / 2, u11);
  const mean = (u20 + u02) / 2;
  return { angle: 0.5 * Math.atan2(2 * u11, u20 - u02), elongation: Math.sqrt((mean + half) / Math.max(mean - half, Number.MIN_VALUE)) };
}

/** Where the part lies in a prepared image: the centre of its extent and the angle of its axis. */
export function partPose(img: PreparedImage): PartPose {
  const { width: w, height: h } = img;
  const mo = partMoments(img);
  if (mo === null) return IDENTITY(w, h);
  const { px, py, pw, mx, my, u20, u02, u11 } = mo;
  const n = px.length;
  let angle = 0.5 * Math.atan2(2 * u11, u20 - u02);
  // The axis has two directions: the wider end goes to the left (negative u), so Σ w·u·v² > 0
  // (wider at positive u) turns the axis by half a turn.
  const along = new Float64Array(n);
  const across = new Float64Array(n);
  let widthSkew = 0;
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  for (let k = 0; k < n; k++) {
    const dx = px[k] - mx;
    const dy = py[k] - my;
    along[k] = c * dx + s * dy;
    across[k] = -s * dx + c * dy;
    widthSkew += pw[k] * along[k] * across[k] * across[k];
  }
  // Centre of the extent, not the centroid: the centroid leans to the heavy end, and a long part
  // centred on it would leave the frame at the other end.
  const mid = (a: Float64Array): number => {
    a.sort();
    const k = Math.floor(EXTENT_TRIM * (a.length - 1));
    return (a[k] + a[a.length - 1 - k]) / 2;
  };
  const um = mid(along);
  const tm = mid(across);
  if (widthSkew > 0) angle += Math.PI;
  return { cx: mx + c * um - s * tm, cy: my + s * um + c * tm, angle };
}

/** Maps aligned point (X, Y) of a w × h frame to the frame point (edge coordinates) it shows. */
export function alignedToFrame(pose: PartPose, w: number, h: number): (X: number, Y: number) => [number, number] {
  const c = Math.cos(pose.angle);
  const s = Math.sin(pose.angle);
  return (X, Y) => {
    const u = X - w / 2;
    const v = Y - h / 2;
    return [pose.cx + c * u - s * v, pose.cy + s * u + c * v];
  };
}

/** The inverse of `alignedToFrame`. */
export function frameToAligned(pose: PartPose, w: number, h: number): (x: number, y: number) => [number, number] {
  const c = Math.cos(pose.angle);
  const s = Math.sin(pose.angle);
  return (x, y) => {
    const u = x - pose.cx;
    const v = y - pose.cy;
    return [w / 2 + c * u + s * v, h / 2 - s * u + c * v];
  };
}

/**
 * The prepared image with its part aligned (bilinear). What the turn brings in from outside the
 * frame is filled with the background colour of each channel, so it reads as empty tray.
 */
export function alignPrepared(img: PreparedImage, pose: PartPose = partPose(img)): PreparedImage {
  const { width: w, height: h } = img;
  const plane = w * h;
  // The four source pixels of each aligned pixel (−1: outside the frame) and the sample's fractions.
  const taps = new Int32Array(4 * plane);
  const fx = new Float32Array(plane);
  const fy = new Float32Array(plane);
  const toFrame = alignedToFrame(pose, w, h);
  for (let Y = 0, p = 0; Y < h; Y++) {
    for (let X = 0; X < w; X++, p++) {
      const [ex, ey] = toFrame(X + 0.5, Y + 0.5);
      // Index coordinates of the sample point (pixel centres at integers).
      const x = ex - 0.5;
      const y = ey - 0.5;
      const x0 = Math.floor(x);
      const y0 = Math.floor(y);
      fx[p] = x - x0;
      fy[p] = y - y0;
      for (let k = 0; k < 4; k++) {
        const xi = x0 + (k & 1);
        const yi = y0 + (k >> 1);
        taps[4 * p + k] = xi >= 0 && yi >= 0 && xi < w && yi < h ? yi * w + xi : -1;
      }
    }
  }
  const border = borderIndices(w, h);
  const data = new Float32Array(3 * plane);
  for (let ch = 0; ch < 3; ch++) {
    const src = img.data.subarray(ch * plane, (ch + 1) * plane);
    const fill = borderMedian(src, border);
    const dst = data.subarray(ch * plane, (ch + 1) * plane);
    for (let p = 0; p < plane; p++) {
      const i00 = taps[4 * p];
      const i10 = taps[4 * p + 1];
      const i01 = taps[4 * p + 2];
      const i11 = taps[4 * p + 3];
      const v00 = i00 >= 0 ? src[i00] : fill;
      const v10 = i10 >= 0 ? src[i10] : fill;
      const v01 = i01 >= 0 ? src[i01] : fill;
      const v11 = i11 >= 0 ? src[i11] : fill;
      const top = v00 + (v10 - v00) * fx[p];
      const bottom = v01 + (v11 - v01) * fx[p];
      dst[p] = top + (bottom - top) * fy[p];
    }
  }
  return { data, width: w, height: h, geometry: { ...img.geometry, pose } };
}
