import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBankSearchers, releaseBankSearchers, scorePatches } from '../../src/engine/score/index.js';
import { cachedSearcher, nearestRowsReference } from '../../src/engine/search/index.js';
import type { Bank, BankSet } from '../../src/engine/index.js';
import { bankOf } from '../helpers/banks.js';
import { clusteredData } from '../helpers/clustered-data.js';

// One patch at the origin. Row 0 is nearer (distance 2, squared 4) but heavy (w = 3 → a = 12);
// row 1 is farther (distance 2.5, squared 6.25) and light (w = 1 → 6.25). Weighting before the
// argmin would pick row 1; the spec picks row 0 and scores 12. Unsquared distances would give 6.
const weighted = bankOf(
  [
    [2, 0],
    [0, 2.5],
  ],
  [3, 1],
  [0, 1],
);
const grid1 = { h: 1, w: 1 };

test('the weight multiplies the squared distance of the row chosen by distance alone', async () => {
  const set: BankSet = { method: 'softpatch', grid: grid1, cls: weighted, seg: null };
  const s = await scorePatches(set, Float32Array.of(0, 0));
  assert.equal(s.scores[0], 12);
  assert.equal(s.imageScore, 12);
  assert.equal(s.mapScores, s.scores);
  const plain = await scorePatches(set, Float32Array.of(0, 0), { softWeights: false });
  assert.equal(plain.scores[0], 4);
});

test('excludeImage skips the rows of that training image', async () => {
  const set: BankSet = { method: 'softpatch', grid: grid1, cls: weighted, seg: null };
  const s = await scorePatches(set, Float32Array.of(0, 0), { excludeImage: 0 });
  assert.equal(s.scores[0], 6.25);
  await assert.rejects(
    scorePatches({ method: 'softpatch', grid: grid1, cls: bankOf([[1, 1]], [1], [4]), seg: null }, Float32Array.of(0, 0), {
      excludeImage: 4,
    }),
    (e: Error & { code?: string }) => e.code === 'engine_input',
  );
});

test('softpatch+: image score from the classification bank, map scores from the segmentation bank', async () => {
  const cls = bankOf(
    [
      [0, 0],
      [10, 10],
    ],
    [2, 1],
    [0, 1],
  );
  const seg = bankOf(
    [
      [1, 0],
      [10, 9],
    ],
    [1, 0.5],
    [0, 1],
  );
  const set: BankSet = { method: 'softpatch+', grid: { h: 1, w: 2 }, cls, seg };
  // Patch 0 at (0, 1), patch 1 at (10, 10).
  const s = await scorePatches(set, Float32Array.of(0, 1, 10, 10));
  assert.deepEqual([...s.scores], [2 * 1, 1 * 0]);
  assert.equal(s.imageScore, 2);
  assert.deepEqual([...s.mapScores], [1 * 2, 0.5 * 1]);
});

test('scores agree across searcher kinds and equal w·d² of the reference neighbour', async () => {
  const grid = { h: 8, w: 8 };
  const data = clusteredData({ rows: 1200, queries: 64, dim: 128, seed: 21, images: 10 });
  const weights = Float32Array.from({ length: data.bank.rows }, (_, r) => 0.8 + (0.4 * ((r * 7919) % 97)) / 97);
  const b: Bank = { ...data.bank, weights };
  const set: BankSet = { method: 'softpatch', grid, cls: b, seg: null };
  for (const excludeImage of [undefined, 2]) {
    const excludeSource = excludeImage === undefined ? undefined : { sourceImage: b.sourceImage, image: excludeImage };
    const ref = nearestRowsReference(b, data.queries, 64, { excludeSource });
    const expected = Float32Array.from(ref.index, (row, p) => weights[row] * ref.dist2[p]);
    for (const kind of ['fast', 'gemm', 'reference'] as const) {
      const searchers = await createBankSearchers(set, { kind, projectionDim: 16 });
      const s = await scorePatches(set, data.queries, { excludeImage, searchers });
      assert.deepEqual([...s.scores], [...expected], `${kind}, exclude ${excludeImage}`);
      assert.equal(s.imageScore, Math.max(...expected));
      releaseBankSearchers(searchers);
    }
  }
});

test('scorePatches rejects a query of the wrong size', async () => {
  const set: BankSet = { method: 'softpatch', grid: { h: 2, w: 2 }, cls: weighted, seg: null };
  await assert.rejects(scorePatches(set, new Float32Array(6)), (e: Error & { code?: string }) => e.code === 'engine_input');
});

test('without searchers, scorePatches reuses one cached fast searcher per bank', async () => {
  const data = clusteredData({ rows: 300, queries: 16, dim: 32, seed: 6 });
  const b: Bank = { ...data.bank, weights: new Float32Array(300).fill(1) };
  const set: BankSet = { method: 'softpatch', grid: { h: 4, w: 4 }, cls: b, seg: null };
  const first = await scorePatches(set, data.queries);
  const second = await scorePatches(set, data.queries);
  assert.deepEqual([...second.scores], [...first.scores]);
  const searcher = await cachedSearcher(b);
  assert.equal(searcher.kind, 'fast');
  assert.equal(searcher.stats().queries, 32);
});
