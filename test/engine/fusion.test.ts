import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuseScores, ranks } from '../../src/engine/denoise/index.js';

test('global ranks: 0-based, ties averaged, divided by N − 1', () => {
  // values 5, 1, 3, 3, 9 → ranks 3, 0, 1.5, 1.5, 4 → / 4.
  assert.deepEqual([...ranks(Float64Array.from([5, 1, 3, 3, 9]), 'global', 1, 5)], [0.75, 0, 0.375, 0.375, 1]);
  assert.deepEqual([...ranks(Float64Array.from([2]), 'global', 1, 1)], [0]);
});

test('per-position ranks use the B patches of each position', () => {
  // 3 images × 2 positions, image-major: position 0 = [1, 3, 2], position 1 = [10, 10, 0].
  const v = Float64Array.from([1, 10, 3, 10, 2, 0]);
  assert.deepEqual([...ranks(v, 'perPosition', 3, 2)], [0, 0.75, 1, 0.75, 0.5, 0]);
});

test('fusion: mean rank, max rank, min-max', () => {
  const a = Float64Array.from([1, 2, 3]);
  const b = Float64Array.from([30, 10, 20]);
  // ranks a: 0, 0.5, 1; b: 1, 0, 0.5.
  assert.deepEqual([...fuseScores([a, b], { fusion: 'rank', rankScope: 'global' }, 1, 3)], [0.5, 0.25, 0.75]);
  assert.deepEqual([...fuseScores([a, b], { fusion: 'maxRank', rankScope: 'global' }, 1, 3)], [1, 0.5, 1]);
  // min-max a: 0, 0.5, 1; b: 1, 0, 0.5 (same here), a constant score contributes 0.
  assert.deepEqual([...fuseScores([a, b], { fusion: 'minmax', rankScope: 'global' }, 1, 3)], [0.5, 0.25, 0.75]);
  const c = Float64Array.from([4, 4, 4]);
  assert.deepEqual([...fuseScores([a, c], { fusion: 'minmax', rankScope: 'global' }, 1, 3)], [0, 0.25, 0.5]);
});

test('one discriminator: rank fusion keeps its order', () => {
  const s = Float64Array.from([0.3, 9, 1.2, 1.1, 5]);
  const u = fuseScores([s], { fusion: 'rank', rankScope: 'global' }, 1, 5);
  const order = (x: ArrayLike<number>): number[] => [...Array(x.length).keys()].sort((i, j) => x[i] - x[j]);
  assert.deepEqual(order(u), order(s));
});
