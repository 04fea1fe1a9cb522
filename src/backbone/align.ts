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

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** Grey level (mean of R, G, B) of each pixel of a planar RGB image. */
function greyOf(img: PreparedImage): Float32Array {
  const plane = img.width * img.height;
  const g = new Float32Array(plane);
  for (let p = 0; p < plane; p++) g[p] = (img.data[p] + img.data[plane + p] + img.data[2 * plane + p]) / 3;
  return g;
}

function borderIndices(w: number, h: number): number[] {
  const out: number[] = [];
  for (let x = 0; x < w; x++) out.push(x, (h - 1) * w + x);
  for (let y = 1; y < h - 1; y++) out.push(y * w, y * w + w - 1);
  return out;
}

/** Where the part lies in a prepared image: the centre of its extent and the angle of its axis. */
export function partPose(img: PreparedImage): PartPose {
  const { width: w, height: h } = img;
  const grey = greyOf(img);
  const border = borderIndices(w, h);
  const bg = median(border.map((i) => grey[i]));
  const diff = new Float32Array(w * h);
  for (let i = 0; i < diff.length; i++) diff[i] = Math.abs(grey[i] - bg);
  const strong = [...diff].sort((a, b) => a - b)[Math.floor(0.995 * (diff.length - 1))];
  if (strong < MIN_CONTRAST) return IDENTITY(w, h);
  const cut = PART_SHARE * strong;
  // Weighted moments of the part (weight: how far above the cut a pixel differs).
  let m = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = diff[y * w + x] - cut;
      if (v <= 0) continue;
      m += v;
      sx += v * (x + 0.5);
      sy += v * (y + 0.5);
    }
  }
  if (!(m > 0)) return IDENTITY(w, h);
  const mx = sx / m;
  const my = sy / m;
  let u20 = 0;
  let u02 = 0;
  let u11 = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = diff[y * w + x] - cut;
      if (v <= 0) continue;
      const dx = x + 0.5 - mx;
      const dy = y + 0.5 - my;
      u20 += v * dx * dx;
      u02 += v * dy * dy;
      u11 += v * dx * dy;
    }
  }
  let angle = 0.5 * Math.atan2(2 * u11, u20 - u02);
  // The axis has two directions: the wider end goes to the left (negative u), so Σ w·u·v² > 0
  // (wider at positive u) turns the axis by half a turn.
  const along: number[] = [];
  const across: number[] = [];
  let widthSkew = 0;
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = diff[y * w + x] - cut;
      if (v <= 0) continue;
      const dx = x + 0.5 - mx;
      const dy = y + 0.5 - my;
      const u = c * dx + s * dy;
      const t = -s * dx + c * dy;
      widthSkew += v * u * t * t;
      along.push(u);
      across.push(t);
    }
  }
  // Centre of the extent, not the centroid: the centroid leans to the heavy end, and a long part
  // centred on it would leave the frame at the other end.
  const mid = (a: number[]): number => {
    a.sort((p, q) => p - q);
    const k = Math.floor(EXTENT_TRIM * (a.length - 1));
    return (a[k] + a[a.length - 1 - k]) / 2;
  };
  const um = mid(along);
  const tm = mid(across);
  if (widthSkew > 0) angle += Math.PI;
  return { cx: mx + c * um - s * tm, cy: my + s * um + c * tm, angle };
}

/** The frame point (edge coordinates) that aligned point (X, Y) of a w × h frame shows. */
export function alignedToFrame(pose: PartPose, w: number, h: number, X: number, Y: number): [number, number] {
  const u = X - w / 2;
  const v = Y - h / 2;
  const c = Math.cos(pose.angle);
  const s = Math.sin(pose.angle);
  return [pose.cx + c * u - s * v, pose.cy + s * u + c * v];
}

/** Inverse of `alignedToFrame`. */
export function frameToAligned(pose: PartPose, w: number, h: number, x: number, y: number): [number, number] {
  const u = x - pose.cx;
  const v = y - pose.cy;
  const c = Math.cos(pose.angle);
  const s = Math.sin(pose.angle);
  return [w / 2 + c * u + s * v, h / 2 - s * u + c * v];
}

/**
 * The prepared image with its part aligned (bilinear). What the turn brings in from outside the
 * frame is filled with the background colour of each channel, so it reads as empty tray.
 */
export function alignPrepared(img: PreparedImage, pose: PartPose = partPose(img)): PreparedImage {
  const { width: w, height: h } = img;
  const plane = w * h;
  const border = borderIndices(w, h);
  // Sample point of each aligned pixel, in index coordinates (pixel centres at integers).
  const sx = new Float64Array(plane);
  const sy = new Float64Array(plane);
  const c = Math.cos(pose.angle);
  const s = Math.sin(pose.angle);
  for (let Y = 0; Y < h; Y++) {
    for (let X = 0; X < w; X++) {
      const u = X + 0.5 - w / 2;
      const v = Y + 0.5 - h / 2;
      sx[Y * w + X] = pose.cx + c * u - s * v - 0.5;
      sy[Y * w + X] = pose.cy + s * u + c * v - 0.5;
    }
  }
  const data = new Float32Array(3 * plane);
  for (let ch = 0; ch < 3; ch++) {
    const src = img.data.subarray(ch * plane, (ch + 1) * plane);
    const fill = median(border.map((i) => src[i]));
    const at = (x: number, y: number): number => (x >= 0 && y >= 0 && x < w && y < h ? src[y * w + x] : fill);
    const dst = data.subarray(ch * plane, (ch + 1) * plane);
    for (let p = 0; p < plane; p++) {
      const x0 = Math.floor(sx[p]);
      const y0 = Math.floor(sy[p]);
      const ax = sx[p] - x0;
      const ay = sy[p] - y0;
      const top = at(x0, y0) + (at(x0 + 1, y0) - at(x0, y0)) * ax;
      const bottom = at(x0, y0 + 1) + (at(x0 + 1, y0 + 1) - at(x0, y0 + 1)) * ax;
      dst[p] = top + (bottom - top) * ay;
    }
  }
  return { data, width: w, height: h, geometry: { ...img.geometry, pose } };
}
