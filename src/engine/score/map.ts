/**
 * Anomaly map (spec §6 step 5): patch scores on the h × w grid → bilinear resize to the crop size
 * with PyTorch's align_corners=False rule (§3.1) → Gaussian blur with SciPy `gaussian_filter`
 * semantics (σ = 4, radius int(4σ + 0.5), mode "reflect" = half-sample symmetric).
 * Both steps are separable: per-axis tables are computed once per call, sums run in float64.
 */

/** Per output index: the two source indices and the weight of the second (§3.1). */
interface AxisTaps {
  i0: Int32Array;
  i1: Int32Array;
  lambda: Float64Array;
}

function bilinearTaps(nIn: number, nOut: number): AxisTaps {
  const i0 = new Int32Array(nOut);
  const i1 = new Int32Array(nOut);
  const lambda = new Float64Array(nOut);
  const scale = nIn / nOut;
  for (let o = 0; o < nOut; o++) {
    const src = Math.max(0, (o + 0.5) * scale - 0.5);
    const lo = Math.min(Math.floor(src), nIn - 1);
    i0[o] = lo;
    i1[o] = Math.min(lo + 1, nIn - 1);
    lambda[o] = src - lo;
  }
  return { i0, i1, lambda };
}

/** Bilinear resize of a row-major `inH × inW` image to `outH × outW` (rows first, then columns). */
export function resizeBilinear(src: ArrayLike<number>, inH: number, inW: number, outH: number, outW: number): Float32Array {
  const ty = bilinearTaps(inH, outH);
  const tx = bilinearTaps(inW, outW);
  // Along y: outH × inW.
  const mid = new Float64Array(outH * inW);
  for (let o = 0; o < outH; o++) {
    const a = ty.i0[o] * inW;
    const b = ty.i1[o] * inW;
    const l = ty.lambda[o];
    for (let x = 0; x < inW; x++) mid[o * inW + x] = (1 - l) * src[a + x] + l * src[b + x];
  }
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const row = y * inW;
    for (let o = 0; o < outW; o++) {
      const l = tx.lambda[o];
      out[y * outW + o] = (1 - l) * mid[row + tx.i0[o]] + l * mid[row + tx.i1[o]];
    }
  }
  return out;
}

/** SciPy's "reflect" boundary: the signal repeats as x0..xn−1, xn−1..x0 (period 2n). */
function reflectIndex(i: number, n: number): number {
  const period = 2 * n;
  const m = ((i % period) + period) % period;
  return m < n ? m : period - 1 - m;
}

/** Normalised Gaussian taps for offsets −r..r, r = int(4σ + 0.5) (SciPy's truncate = 4). */
export function gaussianKernel(sigma: number): Float64Array {
  const radius = Math.floor(4 * sigma + 0.5);
  const k = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let t = -radius; t <= radius; t++) {
    const v = Math.exp((-0.5 * t * t) / (sigma * sigma));
    k[t + radius] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/**
 * Correlates every line of `src` along one axis with `kernel`. A line of length `n` starts at
 * `start(line)` with elements `stride` apart; it is copied into a reflect-padded buffer first, so
 * the inner loop has no boundary tests.
 */
function blurLines(
  src: Float64Array,
  dst: Float64Array,
  lines: number,
  n: number,
  lineStart: (line: number) => number,
  stride: number,
  kernel: Float64Array,
): void {
  const radius = (kernel.length - 1) >> 1;
  const padded = new Float64Array(n + 2 * radius);
  const map = Int32Array.from({ length: padded.length }, (_, i) => reflectIndex(i - radius, n));
  for (let line = 0; line < lines; line++) {
    const s = lineStart(line);
    for (let i = 0; i < padded.length; i++) padded[i] = src[s + map[i] * stride];
    // The kernel is symmetric: pair the taps at ±t around the centre.
    for (let i = 0; i < n; i++) {
      const c = i + radius;
      let acc = kernel[radius] * padded[c];
      for (let t = 1; t <= radius; t++) acc += kernel[radius + t] * (padded[c - t] + padded[c + t]);
      dst[s + i * stride] = acc;
    }
  }
}

/** Gaussian blur of a row-major `h × w` image (axis 0 first, then axis 1, as SciPy does). */
export function gaussianBlur(img: ArrayLike<number>, h: number, w: number, sigma: number): Float32Array {
  // SciPy leaves an axis with σ = 0 unfiltered.
  if (!(sigma > 0)) return Float32Array.from(img);
  const kernel = gaussianKernel(sigma);
  const a = Float64Array.from(img);
  const b = new Float64Array(h * w);
  blurLines(a, b, w, h, (x) => x, w, kernel);
  blurLines(b, a, h, w, (y) => y * w, 1, kernel);
  return Float32Array.from(a);
}

/** Patch scores (row-major on `grid`) → `outH × outW` anomaly map: bilinear resize, then blur. */
export function anomalyMap(
  patchScores: ArrayLike<number>,
  grid: { h: number; w: number },
  outH: number,
  outW: number,
  sigma = 4,
): Float32Array {
  return gaussianBlur(resizeBilinear(patchScores, grid.h, grid.w, outH, outW), outH, outW, sigma);
}

/**
 * The map regions and colours are drawn from (one rule with the decision): the anomaly map scaled
 * so that its peak equals the image score. The image score (max of the unblurred classification
 * scores) and the blurred map (of the segmentation bank with softpatch+) are on different scales;
 * after this scaling a pixel is anomalous when its value is above the image threshold, so an
 * anomalous image always has at least one region and a normal one has none. A flat map (peak ≤ 0)
 * carries no location: every pixel gets the image score.
 */
export function decisionMap(map: Float32Array, imageScore: number): Float32Array {
  let peak = -Infinity;
  for (let i = 0; i < map.length; i++) if (map[i] > peak) peak = map[i];
  const out = new Float32Array(map.length);
  if (!(peak > 0)) return out.fill(imageScore);
  const k = imageScore / peak;
  const top = Math.fround(imageScore);
  // Rounding must not lift any pixel above the peak (a normal image would grow a region).
  for (let i = 0; i < map.length; i++) out[i] = map[i] === peak ? top : Math.min(top, map[i] * k);
  return out;
}
