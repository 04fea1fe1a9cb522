import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lutIndex, turbo, TURBO_LUT } from '../../src/render/colormap.js';

/** HSV hue in degrees. */
function hue([r, g, b]: [number, number, number]): number {
  const max = Math.max(r, g, b);
  const d = max - Math.min(r, g, b);
  if (d === 0) return 0;
  const h = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  return (60 * h + 360) % 360;
}

test('turbo: dark at both ends, runs blue → green → red through the middle', () => {
  assert.equal(TURBO_LUT.length, 768);
  const [r0, g0, b0] = turbo(0);
  const [r1, g1, b1] = turbo(1);
  assert.ok(r0 + g0 + b0 < 150, 'low end is dark');
  assert.ok(r1 > 120 && g1 < 40 && b1 < 20, 'high end is dark red');
  const [rm, gm, bm] = turbo(0.5);
  assert.ok(gm > rm && gm > bm, 'middle is green-ish');
  // Hue falls monotonically from blue to red across the body of the map (allowing 8-bit rounding wiggles).
  let previous = hue(turbo(16 / 255));
  for (let k = 17; k <= 240; k++) {
    const h = hue(turbo(k / 255));
    assert.ok(h <= previous + 0.5, `hue rises at ${k}: ${previous} → ${h}`);
    previous = h;
  }
});

test('lutIndex: clamps and rounds', () => {
  assert.equal(lutIndex(-1), 0);
  assert.equal(lutIndex(Number.NaN), 0);
  assert.equal(lutIndex(2), 255);
  assert.equal(lutIndex(0.5), 128);
  assert.deepEqual(turbo(1.5), turbo(1));
});
