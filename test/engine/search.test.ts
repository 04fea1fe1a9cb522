import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../../src/engine/kernels/index.js';
import {
  createSearcher,
  exactDist2,
  exactDist2Below,
  nearestRows,
  nearestRowsGemm,
  nearestRowsReference,
  type NearestResult,
  type SearchBank,
  type SearchOptions,
} from '../../src/engine/search/index.js';
import { benchSearch, clusteredData } from '../helpers/clustered-data.js';

function assertSame(actual: NearestResult, expected: NearestResult, what: string): void {
  assert.equal(actual.index.length, expected.index.length);
  for (let q = 0; q < expected.index.length; q++) {
    assert.equal(actual.index[q], expected.index[q], `${what}: query ${q} row`);
    assert.equal(actual.dist2[q], expected.dist2[q], `${what}: query ${q} distance`);
  }
}

test('reference: exact squared distances, lowest row on ties, excluded rows skipped', () => {
  // Rows 1 and 2 are equally near the query; row 0 is nearer but belongs to image 7.
  const bank: SearchBank = { features: Float32Array.from([0, 0.5, 1, 0, 1, 0, 3, 3]), rows: 4, dim: 2 };
  const queries = Float32Array.from([0, 0, 1, 1]);
  const plain = nearestRowsReference(bank, queries, 2);
  assert.deepEqual([...plain.index], [0, 1]);
  assert.deepEqual([...plain.dist2], [0.25, 1]);
  const sourceImage = Int32Array.from([7, 1, 2, 3]);
  const loo = nearestRowsReference(bank, queries, 2, { excludeSource: { sourceImage, image: 7 } });
  assert.deepEqual([...loo.index], [1, 1]);
  assert.deepEqual([...loo.dist2], [1, 1]);
  const none = nearestRowsReference({ features: Float32Array.from([1, 2]), rows: 1, dim: 2 }, queries, 1, {
    excludeSource: { sourceImage: Int32Array.of(4), image: 4 },
  });
  assert.equal(none.index[0], -1);
  assert.equal(none.dist2[0], Infinity);
});

const data = clusteredData({ rows: 3000, queries: 400, dim: 256, seed: 11, images: 12 });
const { bank } = data;
const exclusions: SearchOptions[] = [{}, { excludeSource: { sourceImage: bank.sourceImage, image: 3 } }];

test('exactDist2Below: the exact bits up to the limit, above it a partial sum between the limit and the distance', () => {
  const rng = createRng(11);
  for (const dim of [1, 3, 4, 5, 63, 64, 65, 130, 1024]) {
    const a = Float32Array.from({ length: 2 * dim }, () => rng.next() * 4 - 2);
    const b = Float32Array.from({ length: 3 * dim }, () => rng.next() * 4 - 2);
    const full = exactDist2(a, dim, b, 2 * dim, dim);
    // No early exit at or above the distance itself (ties must be compared in full).
    for (const limit of [Infinity, full * 2, full])
      assert.equal(exactDist2Below(a, dim, b, 2 * dim, dim, limit), full, `dim ${dim}, limit ${limit}`);
    for (const limit of [0, full / 4, full / 2, full * 0.99]) {
      const d = exactDist2Below(a, dim, b, 2 * dim, dim, limit);
      assert.ok(d > limit && d <= full, `dim ${dim}, limit ${limit}: ${d} against ${full}`);
    }
  }
});

test('gemm: same rows as the reference, distances recomputed exactly', async () => {
  const gemm = await createSearcher(bank, { kind: 'gemm' });
  for (const opts of exclusions) {
    const ref = nearestRowsReference(bank, data.queries, data.nq, opts);
    const got = await gemm.nearest(data.queries, data.nq, opts);
    for (let q = 0; q < data.nq; q++) {
      assert.ok(Math.abs(got.dist2[q] - ref.dist2[q]) <= 1e-4 * ref.dist2[q], `query ${q}: ${got.dist2[q]} vs ${ref.dist2[q]}`);
    }
    assertSame(got, ref, 'gemm');
    if (opts.excludeSource) assert.ok(got.index.every((r) => bank.sourceImage[r] !== 3));
  }
  gemm.release();
  await assert.rejects(gemm.nearest(data.queries, 1), /after release/);
});

test('fast: identical to the reference with and without excluded rows', async () => {
  const fast = await createSearcher(bank, { kind: 'fast', projectionDim: 32 });
  for (const opts of exclusions) {
    assertSame(await fast.nearest(data.queries, data.nq, opts), nearestRowsReference(bank, data.queries, data.nq, opts), 'fast');
  }
  const s = fast.stats();
  assert.equal(s.queries, 2 * data.nq);
  assert.ok(s.projected > data.nq, `most queries proven in the projected space: ${JSON.stringify(s)}`);
  fast.release();
});

test('fast: a weak projection sends queries to the later stages, answers unchanged', async () => {
  // Isotropic data: 4 of 256 directions say little about distances.
  const flat = clusteredData({ rows: 1500, queries: 200, dim: 256, seed: 5, decay: 0 });
  const fast = await createSearcher(flat.bank, { kind: 'fast', projectionDim: 4, candidates: 3 });
  const opts = { excludeSource: { sourceImage: flat.bank.sourceImage, image: 0 } };
  assertSame(
    await fast.nearest(flat.queries, flat.nq, opts),
    nearestRowsReference(flat.bank, flat.queries, flat.nq, opts),
    'weak projection',
  );
  assert.ok(fast.stats().secondStage > 0, JSON.stringify(fast.stats()));
});

/** Random rows far from the origin with rows `from .. to` all equal, and one query just beside them. */
function duplicateRows(rows: number, dim: number, from: number, to: number, seed: number): { tied: SearchBank; queries: Float32Array } {
  const rng = createRng(seed);
  const features = Float32Array.from({ length: rows * dim }, () => 5 + rng.next());
  const dup = Float32Array.from({ length: dim }, () => rng.next());
  for (let r = from; r < to; r++) features.set(dup, r * dim);
  return { tied: { features, rows, dim }, queries: Float32Array.from(dup, (v) => v + 0.01) };
}

test('fast: more exact duplicates than the wide stage holds fall through to a full scan and keep the lowest row', async () => {
  const { tied, queries } = duplicateRows(1300, 24, 100, 1200, 2);
  const fast = await createSearcher(tied, { kind: 'fast', projectionDim: 8, candidates: 4, tree: false });
  const got = await fast.nearest(queries, 1);
  assert.equal(got.index[0], 100);
  assertSame(got, nearestRowsReference(tied, queries, 1), 'duplicates');
  assert.equal(fast.stats().scanned, 1);
  // The tree stage takes every duplicate as a candidate and walks them to the lowest row.
  const tree = await createSearcher(tied, { kind: 'fast', projectionDim: 16, candidates: 4 });
  assertSame(await tree.nearest(queries, 1), got, 'duplicates, tree');
  assert.equal(tree.stats().projected, 1);
});

test('fast: more duplicates than the tree stage may return go on to the dense stages, answers unchanged', async () => {
  // 4,500 equal rows: more than the tree stage's 4,096 candidates per query.
  const { tied, queries } = duplicateRows(5000, 24, 300, 4800, 5);
  const fast = await createSearcher(tied, { kind: 'fast', projectionDim: 16, candidates: 4 });
  const got = await fast.nearest(queries, 1);
  assert.equal(got.index[0], 300);
  assertSame(got, nearestRowsReference(tied, queries, 1), 'many duplicates');
  assert.equal(fast.stats().projected, 0);
});

test('fast: near-ties under a tight bound (low-rank data far from the origin) stay exact', async () => {
  // Rows sit on a sphere of squared radius 1 + tiny offsets around the query, inside an 8-d
  // subspace that the projection captures fully, so the bound is tight and only rounding separates rows.
  const dim = 64,
    rank = 8,
    rows = 400;
  const rng = createRng(9);
  const basis: Float64Array[] = [];
  while (basis.length < rank) {
    const v = Float64Array.from({ length: dim }, () => rng.next() - 0.5);
    for (const b of basis) {
      const c = b.reduce((s, x, i) => s + x * v[i], 0);
      for (let i = 0; i < dim; i++) v[i] -= c * b[i];
    }
    const n = Math.hypot(...v);
    basis.push(v.map((x) => x / n));
  }
  const centre = Float64Array.from({ length: dim }, () => 100 + rng.next());
  const features = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const coef = Float64Array.from({ length: rank }, () => rng.next() - 0.5);
    const scale = Math.sqrt(1 + 1e-6 * rng.next()) / Math.hypot(...coef);
    for (let i = 0; i < dim; i++) {
      let v = centre[i];
      for (let k = 0; k < rank; k++) v += coef[k] * scale * basis[k][i];
      features[r * dim + i] = v;
    }
  }
  const low: SearchBank = { features, rows, dim };
  const nq = 50;
  const queries = Float32Array.from({ length: nq * dim }, (_, i) => centre[i % dim] + 1e-4 * (rng.next() - 0.5));
  const ref = nearestRowsReference(low, queries, nq);
  const fast = await createSearcher(low, { kind: 'fast', projectionDim: 16, candidates: 8, tree: false });
  assertSame(await fast.nearest(queries, nq), ref, 'near-ties');
  // Rounding can order these rows either way, so no proof closes among the first candidates:
  // later stages or the scan settle every query.
  const s = fast.stats();
  assert.equal(s.projected, 0);
  assert.equal(s.secondStage + s.scanned, nq);
  // The tree stage's limit takes in every near-tied row, and its walk settles them exactly.
  const tree = await createSearcher(low, { kind: 'fast', projectionDim: 16, candidates: 8 });
  assertSame(await tree.nearest(queries, nq, { rowLength: 10 }), ref, 'near-ties, tree');
  assert.equal(tree.stats().projected, nq);
});

test('plain functions reuse one searcher per bank and agree with the reference', async () => {
  const ref = nearestRowsReference(bank, data.queries, 50);
  assertSame(await nearestRows(bank, data.queries, 50), ref, 'nearestRows');
  assertSame(await nearestRows(bank, data.queries.subarray(0, 50 * bank.dim), 50), ref, 'nearestRows again');
  assertSame(await nearestRowsGemm(bank, data.queries, 50), ref, 'nearestRowsGemm');
});

test('searchers reject queries that do not fit the bank', async () => {
  const s = await createSearcher(bank, { kind: 'reference' });
  await assert.rejects(s.nearest(new Float32Array(10), 1), (e: Error & { code?: string }) => e.code === 'engine_input');
  await assert.rejects(
    s.nearest(data.queries, 1, { excludeSource: { sourceImage: new Int32Array(3), image: 0 } }),
    (e: Error & { code?: string }) => e.code === 'engine_input',
  );
  await assert.rejects(
    createSearcher({ features: new Float32Array(5), rows: 2, dim: 3 }),
    (e: Error & { code?: string }) => e.code === 'engine_input',
  );
});

test('benchSearch reports timings and full agreement on a small case', async () => {
  const r = await benchSearch({ queries: 100, bankRows: 800, dim: 64, seed: 4, runs: 1, reference: true });
  assert.equal(r.queries, 100);
  assert.equal(r.bankRows, 800);
  assert.ok(r.exactGemmMs > 0 && r.fastMs > 0);
  assert.equal(r.fastReferenceAgreement, 1);
  assert.ok(r.top1Agreement > 0.99);
});

test('large batches run in chunks that bound the key matrix, with the same answers', async () => {
  // 50,000 rows: a 16M-element key matrix holds 335 queries, so 600 queries take two runs.
  const big = clusteredData({ rows: 50_000, queries: 600, dim: 8, seed: 8, clusters: 16, latentDim: 3 });
  const opts = { excludeSource: { sourceImage: big.bank.sourceImage, image: 1 } };
  const ref = nearestRowsReference(big.bank, big.queries, big.nq, opts);
  for (const kind of ['fast', 'gemm'] as const) {
    const s = await createSearcher(big.bank, { kind, projectionDim: 4 });
    assertSame(await s.nearest(big.queries, big.nq, opts), ref, kind);
  }
});
