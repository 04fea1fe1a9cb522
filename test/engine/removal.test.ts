import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quantileLinear, removeOutliers, softWeights } from '../../src/engine/denoise/index.js';

test('quantileLinear: numpy/torch linear interpolation', () => {
  // np.quantile([1, 2, 3, 4], 0.5) = 2.5; q = 0.85 → h = 2.55 → 3 + 0.55·1 = 3.55.
  assert.equal(quantileLinear([4, 1, 3, 2], 0.5), 2.5);
  assert.ok(Math.abs(quantileLinear([4, 1, 3, 2], 0.85) - 3.55) < 1e-12);
  assert.equal(quantileLinear([4, 1, 3, 2], 0), 1);
  assert.equal(quantileLinear([4, 1, 3, 2], 1), 4);
  assert.equal(quantileLinear([7], 0.3), 7);
  // h = 0.25·9 = 2.25 over 0..9 → 2.25 (t < 0.5 branch); h = 0.75·9 = 6.75 → 6.75 (t ≥ 0.5 branch).
  const ramp = Array.from({ length: 10 }, (_, i) => i);
  assert.equal(quantileLinear(ramp, 0.25), 2.25);
  assert.equal(quantileLinear(ramp, 0.75), 6.75);
  assert.throws(() => quantileLinear([], 0.5), RangeError);
});

test('removal: strictly greater than the (1 − τ) quantile is removed', () => {
  // 20 scores 0..19, τ = 0.15: t = quantile(0.85) = 16.15 → 17, 18, 19 removed (⌊0.85·19⌋ + 1 = 17 kept).
  const scores = Array.from({ length: 20 }, (_, i) => (i * 7) % 20);
  const r = removeOutliers(scores, 0.15);
  assert.ok(Math.abs(r.threshold - 16.15) < 1e-12);
  assert.equal(r.removedCount, 3);
  scores.forEach((s, n) => assert.equal(r.keep[n], s > 16.15 ? 0 : 1));
  // Ties at the threshold are kept; τ = 0 removes nothing.
  const tied = removeOutliers([1, 1, 1, 1, 5], 0.5);
  assert.equal(tied.threshold, 1);
  assert.deepEqual([...tied.keep], [1, 1, 1, 1, 0]);
  assert.equal(removeOutliers(scores, 0).removedCount, 0);
});

test('soft weights clamp at zero', () => {
  assert.deepEqual([...softWeights([1.5, -0.25, 0, 3e10])], [1.5, 0, 0, Math.fround(3e10)]);
});
