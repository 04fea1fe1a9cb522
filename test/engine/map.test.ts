import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anomalyMap, gaussianBlur, gaussianKernel, resizeBilinear } from '../../src/engine/score/index.js';
import { createRng } from '../../src/engine/kernels/index.js';

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

test('resizeBilinear reproduces the §3.1 test vector 0..13 → 28 along either axis', () => {
  const src = Float32Array.from({ length: 14 }, (_, i) => i);
  const expected = [0, ...Array.from({ length: 26 }, (_, i) => 0.25 + 0.5 * i), 13];
  assert.equal(expected[1], 0.25);
  assert.equal(expected[26], 12.75);
  assertClose(resizeBilinear(src, 1, 14, 1, 28), expected, 1e-6, 'row');
  assertClose(resizeBilinear(src, 14, 1, 28, 1), expected, 1e-6, 'column');
});

test('resizeBilinear interpolates an affine image exactly at the clamped source coordinates', () => {
  const inH = 5,
    inW = 7,
    outH = 11,
    outW = 3;
  const g = (y: number, x: number): number => 2 * y - 3 * x + 1;
  const src = Float32Array.from({ length: inH * inW }, (_, i) => g(Math.floor(i / inW), i % inW));
  const out = resizeBilinear(src, inH, inW, outH, outW);
  const coord = (o: number, nIn: number, nOut: number): number => Math.min(Math.max(0, ((o + 0.5) * nIn) / nOut - 0.5), nIn - 1);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const want = g(coord(y, inH, outH), coord(x, inW, outW));
      assert.ok(Math.abs(out[y * outW + x] - want) < 1e-5, `(${y}, ${x}): ${out[y * outW + x]} vs ${want}`);
    }
  }
});

// Values printed by scipy.ndimage.gaussian_filter(a, sigma) (SciPy 1.17, float64 input).
const SMALL = [
  [0, 3, 6, 9, 1],
  [7, 10, 2, 5, 8],
  [3, 6, 9, 1, 4],
  [10, 2, 5, 8, 0],
  [6, 9, 1, 4, 7],
  [2, 5, 8, 0, 3],
].flat();
const SCIPY_SIGMA1 = [
  3.34699131, 4.41225034, 5.36000138, 5.42281949, 4.56760768, 4.88837698, 5.37970816, 5.39406732, 5.09607396, 4.81334182, 5.74281573,
  5.719628, 5.33298163, 4.64298067, 4.18392844, 6.14636959, 5.58361672, 5.00018332, 4.40010987, 3.81157098, 5.64944149, 5.36841585,
  4.66835585, 4.06783546, 3.9032018, 4.46777703, 5.00950449, 4.60175761, 3.59124608, 3.42704095,
];
// σ = 2: radius 8 exceeds both sides, so the reflection wraps more than once.
const SCIPY_SIGMA2 = [
  4.83790911, 4.89218498, 4.9306113, 4.90788405, 4.86311501, 4.98142877, 4.98308454, 4.94529468, 4.85760039, 4.77843598, 5.14165134,
  5.07032453, 4.92652093, 4.74814223, 4.62083285, 5.19202794, 5.06443521, 4.8380489, 4.58821666, 4.42268134, 5.12234906, 4.96983035,
  4.70539356, 4.42125144, 4.23686761, 5.03490615, 4.87795592, 4.60537302, 4.31260763, 4.12303453,
];

test('gaussianBlur matches scipy.ndimage.gaussian_filter on a 6 × 5 image', () => {
  assertClose(gaussianBlur(SMALL, 6, 5, 1), SCIPY_SIGMA1, 2e-6, 'σ=1');
  assertClose(gaussianBlur(SMALL, 6, 5, 2), SCIPY_SIGMA2, 2e-6, 'σ=2');
});

/** Independent check: one 2-D kernel over an explicitly mirrored copy of the image. */
function blurDirect2d(img: Float32Array, h: number, w: number, sigma: number): Float64Array {
  const r = Math.floor(4 * sigma + 0.5);
  const mirror = (i: number, n: number): number => {
    let j = i;
    while (j < 0 || j >= n) j = j < 0 ? -j - 1 : 2 * n - j - 1;
    return j;
  };
  let norm = 0;
  for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) norm += Math.exp(-(dy * dy + dx * dx) / (2 * sigma * sigma));
  const out = new Float64Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let dy = -r; dy <= r; dy++) {
        for (let dx = -r; dx <= r; dx++) {
          s += Math.exp(-(dy * dy + dx * dx) / (2 * sigma * sigma)) * img[mirror(y + dy, h) * w + mirror(x + dx, w)];
        }
      }
      out[y * w + x] = s / norm;
    }
  }
  return out;
}

test('gaussianBlur equals a direct 2-D convolution with mirrored borders', () => {
  const rng = createRng(3);
  const h = 20,
    w = 17;
  const img = Float32Array.from({ length: h * w }, () => rng.next() * 10);
  for (const sigma of [0.7, 1.5, 4]) {
    assertClose(gaussianBlur(img, h, w, sigma), blurDirect2d(img, h, w, sigma), 1e-5, `σ=${sigma}`);
  }
});

test('gaussianKernel has radius int(4σ + 0.5) and sums to 1', () => {
  assert.equal(gaussianKernel(4).length, 33);
  assert.equal(gaussianKernel(1.1).length, 2 * 4 + 1);
  assert.equal(gaussianKernel(1.2).length, 2 * 5 + 1);
  const k = gaussianKernel(4);
  assert.ok(Math.abs(k.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  assert.ok(Math.abs(k[16] / k[0] - Math.exp(256 / 32)) < 1e-6);
});

test('anomalyMap: 28 × 28 → 224 × 224, a hot patch peaks at its centre and spreads symmetrically', () => {
  const grid = { h: 28, w: 28 };
  const scores = new Float32Array(28 * 28).fill(1);
  scores[10 * 28 + 20] = 5;
  const map = anomalyMap(scores, grid, 224, 224);
  assert.equal(map.length, 224 * 224);
  let argmax = 0;
  for (let i = 1; i < map.length; i++) if (map[i] > map[argmax]) argmax = i;
  const py = Math.floor(argmax / 224),
    px = argmax % 224;
  // Patch (10, 20) covers pixels 80..87 × 160..167; its centre sits between pixels 83/84 and 163/164.
  assert.ok(py === 83 || py === 84, `peak row ${py}`);
  assert.ok(px === 163 || px === 164, `peak column ${px}`);
  assert.ok(Math.abs(map[(83 - 20) * 224 + 163] - map[(84 + 20) * 224 + 164]) < 1e-5, 'symmetric about the patch centre');
  assert.ok(Math.abs(map[0] - 1) < 1e-6, 'far corner keeps the background score');
  const flat = anomalyMap(new Float32Array(28 * 28).fill(2.5), grid, 224, 224);
  assert.ok(
    flat.every((v) => Math.abs(v - 2.5) < 1e-5),
    'a constant grid gives a constant map',
  );
});

test('anomalyMap of 224 × 224 takes a few milliseconds', () => {
  const rng = createRng(5);
  const scores = Float32Array.from({ length: 784 }, () => rng.next());
  anomalyMap(scores, { h: 28, w: 28 }, 224, 224);
  const t = performance.now();
  for (let i = 0; i < 5; i++) anomalyMap(scores, { h: 28, w: 28 }, 224, 224);
  const ms = (performance.now() - t) / 5;
  // Generous bound (shared 2-core machine); typical is ~3 ms.
  assert.ok(ms < 50, `${ms.toFixed(1)} ms per map`);
});
