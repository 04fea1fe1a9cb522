import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  discriminate,
  type PatchSet,
  windowDiscriminate,
  windowNeighbours,
  windowNeighboursReference,
  windowPositions,
  windowScores,
} from '../../src/engine/denoise/index.js';
import { createRng } from '../../src/engine/kernels/index.js';
import { buildBankSet, featuresInMemory, resolveEngineConfig } from '../../src/engine/index.js';

function randomSet(images: number, grid: { h: number; w: number }, dim: number, seed: number): PatchSet {
  const rng = createRng(seed);
  const P = grid.h * grid.w;
  return {
    images: Array.from({ length: images }, () => Float32Array.from({ length: P * dim }, () => rng.next() * 2 - 1)),
    patches: P,
    dim,
  };
}

const opts = { lofK: 3, lofScoreCap: null };

test('window positions: Chebyshev square clipped at the border', () => {
  assert.deepEqual(windowPositions(0, { h: 3, w: 4 }, 1), [0, 1, 4, 5]);
  assert.deepEqual(windowPositions(5, { h: 3, w: 4 }, 1), [0, 1, 2, 4, 5, 6, 8, 9, 10]);
  assert.deepEqual(windowPositions(5, { h: 3, w: 4 }, 0), [5]);
});

test('window radius 0 is the spec per-position LOF and nearest', () => {
  const grid = { h: 3, w: 3 };
  const set = randomSet(9, grid, 5, 1);
  const ref = windowScores(windowNeighboursReference(set, grid, 0, opts.lofK), opts);
  const spec = discriminate(set, ['lof', 'nearest'], opts);
  assert.deepEqual([...ref.lof], [...spec.get('lof')!]);
  assert.deepEqual([...ref.nearest], [...spec.get('nearest')!]);
});

test('window radius 1 and 2: fast (Gemm top-k) agrees with the plain reference', async () => {
  const grid = { h: 4, w: 5 };
  const set = randomSet(8, grid, 6, 2);
  for (const r of [1, 2]) {
    const ref = windowNeighboursReference(set, grid, r, opts.lofK);
    const fast = await windowNeighbours(set, grid, r, opts.lofK, { threads: 1 });
    assert.deepEqual([...fast.index], [...ref.index], `radius ${r}: neighbours`);
    fast.dist.forEach((d, i) => assert.ok(Math.abs(d - ref.dist[i]) < 1e-12, `radius ${r}: distance ${i}`));
    const a = windowScores(fast, opts);
    const b = windowScores(ref, opts);
    assert.deepEqual([...a.lof], [...b.lof]);
  }
});

test('a pose seen one position away elsewhere is an outlier per position but not with a window', async () => {
  // 1-D "photos": background 0 everywhere except one bright patch, whose position varies over six positions.
  const grid = { h: 1, w: 9 };
  const dim = 2;
  const rng = createRng(3);
  const images = Array.from({ length: 12 }, (_, b) => {
    const img = Float32Array.from({ length: 9 * dim }, () => rng.next() * 0.01);
    const at = 2 + (b % 6);
    img[at * dim] = 5 + rng.next() * 0.01;
    return img;
  });
  const set: PatchSet = { images, patches: 9, dim };
  const spec = discriminate(set, ['lof'], opts).get('lof')!;
  const win = (await windowDiscriminate(set, grid, 1, opts)).lof;
  // Photo 1 has its bright patch at position 3, like only one other photo (k = 3); five have it within ±1.
  const bright = 1 * 9 + 3;
  const median = (v: Float64Array) => Float64Array.from(v).sort()[v.length >> 1];
  assert.ok(spec[bright] > 1.5 * median(spec), `per position the bright patch is an outlier: ${spec[bright]}`);
  assert.ok(win[bright] < 1.5, `with a window it is not: ${win[bright]}`);
});

test('a build records the window in its config and uses it', async () => {
  const grid = { h: 3, w: 3 };
  const set = randomSet(10, grid, 8, 4);
  const features = featuresInMemory(set.images, grid, 8);
  const a = await buildBankSet(features, resolveEngineConfig({ projectionDim: 8, discriminatorWindow: 0, coresetRatio: 0.5 }));
  const b = await buildBankSet(features, resolveEngineConfig({ projectionDim: 8, discriminatorWindow: 1, coresetRatio: 0.5 }));
  assert.notDeepEqual(
    a.noise.map((e) => e.maxScore),
    b.noise.map((e) => e.maxScore),
  );
  assert.throws(() => resolveEngineConfig({ discriminatorWindow: -1 }), /discriminatorWindow/);
});
