import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  discriminate,
  discriminatePositions,
  type PatchSet,
  discriminateReference,
  gaussianReference,
  lofReference,
  nearestReference,
} from '../../src/engine/denoise/index.js';
import { createRng } from '../../src/engine/kernels/index.js';
import type { DiscriminatorName } from '../../src/engine/index.js';

/** One position, points given as rows: the fast path sees them as B images of one patch. */
function single(points: number[][]): { set: PatchSet; flat: Float64Array } {
  const dim = points[0].length;
  return { set: { images: points.map((p) => Float32Array.from(p)), patches: 1, dim }, flat: Float64Array.from(points.flat()) };
}

function both(points: number[][], name: DiscriminatorName, k = 6, cap: number | null = null): { fast: number[]; ref: number[] } {
  const { set, flat } = single(points);
  const fast = [...discriminate(set, [name], { lofK: k, lofScoreCap: cap }).get(name)!];
  const dim = points[0].length;
  const ref =
    name === 'lof'
      ? lofReference(flat, points.length, dim, k, cap)
      : name === 'nearest'
        ? nearestReference(flat, points.length, dim)
        : gaussianReference(flat, points.length, dim);
  return { fast, ref: [...ref] };
}

function close(actual: number[], expected: number[], rel = 1e-9): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) =>
    assert.ok(Math.abs(a - expected[i]) <= rel * Math.max(1, Math.abs(expected[i])), `[${i}] ${a} ≠ ${expected[i]}`),
  );
}

test('lof, k = 2, by hand: 1-D points 0, 1, 2, 10 (tie at point 1 broken by index)', () => {
  // N(0) = {1, 2}, N(1) = {0, 2} (both at 1), N(2) = {1, 0}, N(10) = {2, 1}; k-distances 2, 1, 2, 9.
  // lrd = 1/1.5, 1/2, 1/1.5, 1/8.5 → LOF = 0.875, 4/3, 0.875, (8.5/1.5 + 8.5/2)/2.
  const { fast, ref } = both([[0], [1], [2], [10]], 'lof', 2);
  const expected = [0.875, 4 / 3, 0.875, (8.5 / 1.5 + 8.5 / 2) / 2];
  close(ref, expected, 1e-9);
  assert.deepEqual(fast, ref);
});

test('lof with B ≤ k uses k′ = B − 1 (by hand: 0, 1, 3 with k = 6 → k′ = 2)', () => {
  // k-distances 3, 2, 3; lrd = 0.4, 1/3, 0.4 → LOF = 11/12, 1.2, 11/12.
  const { fast, ref } = both([[0], [1], [3]], 'lof', 6);
  close(ref, [11 / 12, 1.2, 11 / 12]);
  assert.deepEqual(fast, ref);
  // k′ = 1 by hand: 0, 1, 3 → LOF(3) = (2 + 1e−10)/(1 + 1e−10).
  close(both([[0], [1], [3]], 'lof', 1).ref, [1, 1, (2 + 1e-10) / (1 + 1e-10)]);
});

test('lof with duplicates: lrd 1e10 and outliers of order 1e10 unless capped', () => {
  // 9 identical points: every neighbour at distance 0, all LOF = 1.
  const nine = Array.from({ length: 9 }, () => [0.5, -2]);
  const d9 = both(nine, 'lof', 6);
  close(d9.ref, new Array(9).fill(1));
  assert.deepEqual(d9.fast, d9.ref);
  // Plus one point at distance 5: its 6 neighbours are duplicates with lrd 1e10, its own lrd = 1/(5 + 1e−10).
  const withOutlier = [...nine, [3.5, 2]];
  const d10 = both(withOutlier, 'lof', 6);
  close(d10.ref, [...new Array(9).fill(1), 1e10 * (5 + 1e-10)], 1e-6);
  assert.deepEqual(d10.fast, d10.ref);
  const capped = both(withOutlier, 'lof', 6, 100);
  assert.equal(capped.ref[9], 100);
  assert.deepEqual(capped.fast, capped.ref);
});

test('B = 1: every discriminator gives 1', () => {
  for (const name of ['lof', 'nearest', 'gaussian'] as const) {
    const { fast, ref } = both([[1, 2, 3]], name);
    assert.deepEqual(ref, [1], name);
    assert.deepEqual(fast, [1], name);
  }
});

test('nearest by hand: distance to the closest other point + 1', () => {
  const { fast, ref } = both(
    [
      [0, 0],
      [3, 4],
      [0, 1],
    ],
    'nearest',
  );
  assert.deepEqual(ref, [2, 1 + Math.sqrt(9 + 9), 2]);
  assert.deepEqual(fast, ref);
});

test('gaussian by hand: unbiased covariance + 0.01·I, Mahalanobis + 1', () => {
  // 1-D −1, 1: variance 2 + 0.01 → s = 1/√2.01 + 1.
  const one = both([[-1], [1]], 'gaussian');
  close(one.ref, [1 + 1 / Math.sqrt(2.01), 1 + 1 / Math.sqrt(2.01)]);
  close(one.fast, one.ref);
  // 2-D cross: Σ = diag(2/3 + 0.01) → every point at √(1/(2/3 + 0.01)) + 1.
  const cross = both(
    [
      [-1, 0],
      [1, 0],
      [0, -1],
      [0, 1],
    ],
    'gaussian',
  );
  close(cross.ref, new Array(4).fill(1 + Math.sqrt(1 / (2 / 3 + 0.01))));
  close(cross.fast, cross.ref);
});

test('fast == reference on random data, several positions and odd sizes', () => {
  const rng = createRng(42);
  for (const [images, patches, dim, k] of [
    [23, 5, 7, 6],
    [40, 3, 16, 5],
    [6, 4, 9, 10],
  ] as const) {
    const set: PatchSet = {
      images: Array.from({ length: images }, () => Float32Array.from({ length: patches * dim }, () => rng.next() * 4 - 2)),
      patches,
      dim,
    };
    // A duplicated image exercises exact ties.
    set.images[3] = set.images[1].slice();
    const names: DiscriminatorName[] = ['lof', 'nearest', 'gaussian'];
    const opts = { lofK: k, lofScoreCap: null };
    const fast = discriminate(set, names, opts);
    const ref = discriminateReference(set, names, opts);
    for (const name of names) close([...fast.get(name)!], [...ref.get(name)!], name === 'gaussian' ? 1e-9 : 0);
  }
});

test('every position on two threads (a lane over the shared set) equals one thread, bit for bit, with progress', async () => {
  const rng = createRng(5);
  const images = 30;
  const patches = 150;
  const dim = 12;
  const buffer = new SharedArrayBuffer(images * patches * dim * 4);
  const all = new Float32Array(buffer);
  for (let i = 0; i < all.length; i++) all[i] = rng.next() * 4 - 2;
  const set: PatchSet = {
    images: Array.from({ length: images }, (_, b) => all.subarray(b * patches * dim, (b + 1) * patches * dim)),
    patches,
    dim,
  };
  const names: DiscriminatorName[] = ['lof', 'nearest'];
  const opts = { lofK: 6, lofScoreCap: null };
  const seen: number[] = [];
  const laned = await discriminatePositions(set, names, opts, { threads: 2, onPositions: (done) => void seen.push(done) });
  const one = discriminate(set, names, opts);
  for (const name of names) {
    assert.ok(laned.get(name)!.buffer instanceof SharedArrayBuffer, 'written by both threads');
    assert.deepEqual([...laned.get(name)!], [...one.get(name)!]);
  }
  assert.equal(seen.at(-1), patches);
  assert.ok(seen.every((d, i) => i === 0 || d > seen[i - 1]));
  // A failing progress callback stops the work and is the call's error.
  await assert.rejects(
    discriminatePositions(set, names, opts, {
      threads: 2,
      onPositions: () => {
        throw new Error('stop');
      },
    }),
    /stop/,
  );
});
