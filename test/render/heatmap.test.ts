import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { ImageGeometry } from '../../src/backbone/types.js';
import { TURBO_LUT } from '../../src/render/colormap.js';
import { anomalyRegions, colorScale, renderHeatmapPng, renderOverlayPng, toUnit } from '../../src/render/heatmap.js';

// A 300 × 200 photo, shorter side resized to 128 → 192 × 128, centre crop 112 at (40, 8).
// Resized → original factor 300/192 = 200/128 = 1.5625: the crop window covers original
// x ∈ [62.5, 237.5), y ∈ [12.5, 187.5).
const GEOMETRY: ImageGeometry = {
  originalWidth: 300,
  originalHeight: 200,
  resizedWidth: 192,
  resizedHeight: 128,
  cropLeft: 40,
  cropTop: 8,
  cropWidth: 112,
  cropHeight: 112,
};
const M = 112;
const SCALE = colorScale(0, 1); // lo 0, hi 2: the threshold 1 is mid-scale

/** Baseline 0.5 (t = 0.25) with a hot 4 × 4 block of 10 at map cells u 50..53, v 20..23. */
function hotSpotMap(): Float32Array {
  const map = new Float32Array(M * M).fill(0.5);
  for (let v = 20; v < 24; v++) for (let u = 50; u < 54; u++) map[v * M + u] = 10;
  return map;
}

async function decode(png: Buffer): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

function lutColour(level: number): number[] {
  return [TURBO_LUT[3 * level], TURBO_LUT[3 * level + 1], TURBO_LUT[3 * level + 2]];
}

const pixel = (img: { data: Buffer; width: number; channels: number }, x: number, y: number): number[] =>
  Array.from(img.data.subarray((y * img.width + x) * img.channels, (y * img.width + x) * img.channels + 3));

test('colorScale puts the threshold mid-scale; toUnit clamps', () => {
  assert.deepEqual(colorScale(0.5, 1.0), { lo: 0.5, hi: 1.5 });
  const s = colorScale(0.5, 1.0);
  assert.equal(toUnit(1.0, s), 0.5);
  assert.equal(toUnit(0.1, s), 0);
  assert.equal(toUnit(5, s), 1);
  // Threshold below the median calibration score: no span, a step at the threshold.
  const flat = colorScale(1, 0.5);
  assert.equal(toUnit(0.49, flat), 0);
  assert.equal(toUnit(0.5, flat), 1);
});

test('renderHeatmapPng: original size, hot spot and crop window land on the right pixels', async () => {
  const img = await decode(await renderHeatmapPng(hotSpotMap(), M, M, GEOMETRY, SCALE));
  assert.equal(img.width, 300);
  assert.equal(img.height, 200);
  assert.equal(img.channels, 3);
  const hot = lutColour(255);
  const base = lutColour(64); // t = 0.25
  const low = lutColour(0);
  // Hot block: original x ∈ [140.6, 146.9), y ∈ [43.75, 50).
  assert.deepEqual(pixel(img, 143, 46), hot);
  assert.deepEqual(pixel(img, 144, 47), hot);
  assert.deepEqual(pixel(img, 180, 100), base);
  assert.deepEqual(pixel(img, 120, 46), base);
  // The crop window edges: first/last inside pixel centres 62.5…236.5 and 12.5…186.5.
  assert.deepEqual(pixel(img, 62, 100), base);
  assert.deepEqual(pixel(img, 61, 100), low);
  assert.deepEqual(pixel(img, 236, 100), base);
  assert.deepEqual(pixel(img, 237, 100), low);
  assert.deepEqual(pixel(img, 100, 12), base);
  assert.deepEqual(pixel(img, 100, 11), low);
  assert.deepEqual(pixel(img, 100, 186), base);
  assert.deepEqual(pixel(img, 100, 187), low);
  // Saturated pixels sit on the block's footprint (bilinear sampling may saturate one pixel
  // past its edge) and are centred on it: x (140.625 + 146.875)/2, y (43.75 + 50)/2.
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < 200; y++) {
    for (let x = 0; x < 300; x++) {
      if (pixel(img, x, y).join() !== hot.join()) continue;
      assert.ok(x >= 139 && x < 148 && y >= 42 && y < 51, `hot at ${x},${y}`);
      n++;
      sx += x + 0.5;
      sy += y + 0.5;
    }
  }
  assert.ok(n >= 36);
  assert.ok(Math.abs(sx / n - 143.75) < 0.5 && Math.abs(sy / n - 46.875) < 0.5, `centroid ${sx / n}, ${sy / n}`);
});

test('renderHeatmapPng: colour level rises monotonically with the score', async () => {
  // Scores ramp 0 → 2 left to right (t 0 → 1).
  const map = new Float32Array(M * M);
  for (let i = 0; i < map.length; i++) map[i] = ((i % M) / (M - 1)) * 2;
  const img = await decode(await renderHeatmapPng(map, M, M, GEOMETRY, SCALE));
  const levelOf = (rgb: number[]): number => {
    for (let k = 0; k < 256; k++) if (lutColour(k).join() === rgb.join()) return k;
    assert.fail(`colour ${rgb} is not on the colour map`);
  };
  let previous = -1;
  for (let x = 62; x <= 236; x++) {
    const level = levelOf(pixel(img, x, 100));
    assert.ok(level >= previous, `level falls at x=${x}: ${previous} → ${level}`);
    previous = level;
  }
  assert.equal(levelOf(pixel(img, 62, 100)), 0);
  assert.equal(levelOf(pixel(img, 236, 100)), 255);
});

test('renderOverlayPng: EXIF-oriented photo, transparent outside the crop, blended inside', async () => {
  // Stored 200 wide × 300 high with EXIF orientation 6 (rotate 90° clockwise) → shown 300 × 200.
  const photo = await sharp({ create: { width: 200, height: 300, channels: 3, background: { r: 100, g: 150, b: 200 } } })
    .jpeg({ quality: 100 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
  const plain = await decode(await sharp(photo).autoOrient().png().toBuffer());
  const img = await decode(await renderOverlayPng(photo, hotSpotMap(), M, M, GEOMETRY, SCALE, 0.5));
  assert.equal(img.width, 300);
  assert.equal(img.height, 200);
  assert.equal(img.channels, 3);
  assert.deepEqual(pixel(img, 10, 10), pixel(plain, 10, 10));
  assert.deepEqual(pixel(img, 61, 100), pixel(plain, 61, 100));
  // Hot pixel: alpha = 0.5·(0.25 + 0.75·1) = 0.5.
  const hot = lutColour(255);
  const under = pixel(plain, 143, 46);
  pixel(img, 143, 46).forEach((v, c) => assert.ok(Math.abs(v - (under[c] + hot[c]) / 2) <= 2, `channel ${c}: ${v}`));
  // Baseline pixel: a light tint, alpha 0.5·(0.25 + 0.75·64/255) ≈ 0.219.
  const a = Math.round(255 * 0.5 * (0.25 + (0.75 * 64) / 255)) / 255;
  const base = lutColour(64);
  const under2 = pixel(plain, 180, 100);
  pixel(img, 180, 100).forEach((v, c) => assert.ok(Math.abs(v - (under2[c] * (1 - a) + base[c] * a)) <= 2, `channel ${c}: ${v}`));
  await assert.rejects(
    renderOverlayPng(photo, hotSpotMap(), M, M, { ...GEOMETRY, originalWidth: 200, originalHeight: 300 }, SCALE),
    /photo is 300×200/,
  );
});

test('anomalyRegions: bounding boxes in original pixels, most anomalous first', () => {
  const map = hotSpotMap();
  // A second, weaker region touching the first only diagonally would merge; keep it apart.
  map[100 * M + 5] = 3;
  map[101 * M + 6] = 4; // diagonal neighbour: same region
  const regions = anomalyRegions(map, M, M, GEOMETRY, 1);
  assert.equal(regions.length, 2);
  // Hot block u 50..53 → x (40 + 50)·1.5625 = 140.625 … (40 + 54)·1.5625 = 146.875 → 140, width 7;
  // v 20..23 → y (8 + 20)·1.5625 = 43.75 … (8 + 24)·1.5625 = 50 → 43, height 7.
  assert.deepEqual(regions[0], { x: 140, y: 43, width: 7, height: 7, maxScore: 10 });
  // u 5..6 → x 70.3125 … 73.4375 → 70, width 4; v 100..101 → y 168.75 … 171.875 → 168, height 4.
  assert.deepEqual(regions[1], { x: 70, y: 168, width: 4, height: 4, maxScore: 4 });
  assert.deepEqual(anomalyRegions(map, M, M, GEOMETRY, 11), []);
});

test('an aligned part (geometry.pose): regions and heatmap are turned back onto the photo', async () => {
  // The aligned frame's x axis runs down the crop window (a quarter turn clockwise) about its
  // centre: aligned point (X, Y) shows crop point (112 − Y, X).
  const posed: ImageGeometry = { ...GEOMETRY, pose: { cx: 56, cy: 56, angle: Math.PI / 2 } };
  const [region] = anomalyRegions(hotSpotMap(), M, M, posed, 1);
  // Hot block X 50..54, Y 20..24 → crop x 88..92, y 50..54 → original x (40 + 88)·1.5625 = 200 …
  // 206.25, y (8 + 50)·1.5625 = 90.625 … 96.875.
  assert.deepEqual(region, { x: 200, y: 90, width: 7, height: 7, maxScore: 10 });
  const heat = await decode(await renderHeatmapPng(hotSpotMap(), M, M, posed, SCALE));
  assert.deepEqual(pixel(heat, 203, 93), lutColour(255), 'hot where the turned block lands');
  assert.notDeepEqual(pixel(heat, 143, 46), lutColour(255), 'not where the block would be without the turn');
});
