/**
 * Every fast path against its plain reference on real backbone features (generated part photos
 * through the real ResNet-50), where the shortcuts do not collapse to the identity: the fast search
 * (projected candidates, in shared memory too, with leave-one-image-out exclusion), the fast
 * coreset on projected features, and the principal subspace the two steer their pruning with.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadBackbone, prepareImage, type Backbone } from '../../src/backbone/index.js';
import {
  greedyCoreset,
  greedyCoresetReference,
  drawStartPoints,
  repairCoreset,
  repairCoresetReference,
} from '../../src/engine/coreset/index.js';
import { createRng, drawProjection, Projector, principalSubspace, sharedRows } from '../../src/engine/kernels/index.js';
import { createSearcher, exactDist2, nearestRowsReference, type SearchBank } from '../../src/engine/search/index.js';
import { imageScore, scorePatches, weightedScores } from '../../src/engine/score/index.js';
import type { BankSet } from '../../src/engine/index.js';
import { partImage } from '../http/server.js';
import { DEFAULT_BACKBONE_DIR } from '../helpers/paths.js';

const TRAIN = 6;
const ROW_STRIDE = 3;
let backbone: Backbone;
let bank: SearchBank & { sourceImage: Int32Array };
let queries: Float32Array;
let nq = 0;
let dim = 0;
let patches = 0;

before(async () => {
  backbone = await loadBackbone(DEFAULT_BACKBONE_DIR, { threads: 1, verify: false });
  const photos = [
    ...(await Promise.all(Array.from({ length: TRAIN }, (_, i) => partImage(100 + i)))),
    await partImage(200),
    await partImage(201, { defect: { x: 70, y: 50, size: 20 } }),
  ];
  const prepared = await Promise.all(photos.map((p) => prepareImage(p, { resize: 256, crop: 224 })));
  const feats = await backbone.embed(prepared);
  dim = feats[0].dim;
  patches = feats[0].grid.h * feats[0].grid.w;
  // Every third patch of the training photos: a bank of real rows without the cost of a full one.
  const rows = Math.floor((TRAIN * patches) / ROW_STRIDE);
  // In a shared WebAssembly memory, as the service keeps banks: exact distances in the kernel.
  const inMemory = sharedRows(rows, dim);
  assert.ok(inMemory.memory);
  const features = inMemory.features;
  const sourceImage = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const n = r * ROW_STRIDE;
    const b = Math.floor(n / patches);
    features.set(feats[b].data.subarray((n - b * patches) * dim, (n - b * patches + 1) * dim), r * dim);
    sourceImage[r] = b;
  }
  bank = { features, rows, dim, sourceImage, memory: inMemory.memory };
  // A normal and a defective test photo, and one training photo (its own rows are in the bank).
  nq = 3 * 200;
  queries = new Float32Array(nq * dim);
  [TRAIN, TRAIN + 1, 2].forEach((b, i) => queries.set(feats[b].data.subarray(0, 200 * dim), i * 200 * dim));
});

after(async () => {
  await backbone?.close();
});

test('real features: the fast search equals the reference, rows in shared memory, with and without exclusion', async () => {
  const fast = await createSearcher(bank, { kind: 'fast', threads: 2 });
  const exclusion = { excludeSource: { sourceImage: bank.sourceImage, image: 2 } };
  // A call may run on fewer threads than the searcher's (the service's share under load), and seed
  // from the patch above (`rowLength`): same answers. The dense stages alone (no tree): the same too.
  const dense = await createSearcher(bank, { kind: 'fast', threads: 2, tree: false });
  // The tree stage on two threads (lanes), each with its own tree over the shared bank: the same.
  const laned = await createSearcher(bank, { kind: 'fast', threads: 2, lanes: 2 });
  // Rows in a private array: exact distances in JavaScript rather than in the kernel, the same.
  const plain = await createSearcher({ features: bank.features.slice(), rows: bank.rows, dim }, { kind: 'fast', threads: 2 });
  // The first call starts the lane; calls walk alone until it has built its tree.
  for (let i = 0; i < 200 && laned.stats().inLanes === 0; i++) {
    await laned.nearest(queries, nq);
    await new Promise((r) => setTimeout(r, 50));
  }
  const before = laned.stats().inLanes;
  assert.ok(before > 0, 'the lane got ready');
  for (const opts of [{}, exclusion, { threads: 1 }, { ...exclusion, threads: 1, rowLength: 20 }, { rowLength: 20 }]) {
    const ref = nearestRowsReference(bank, queries, nq, opts);
    for (const searcher of [fast, dense, laned, plain]) {
      const got = await searcher.nearest(queries, nq, opts);
      assert.deepEqual(Array.from(got.index), Array.from(ref.index));
      assert.deepEqual(Array.from(got.dist2), Array.from(ref.dist2));
    }
  }
  // Another thread's searcher from this one's index, handed over in shared memory: same answers.
  const data = fast.indexData()!;
  const shared = (a: Float32Array): Float32Array => {
    const c = new Float32Array(new SharedArrayBuffer(a.byteLength));
    c.set(a);
    return c;
  };
  const handed = await createSearcher(bank, {
    kind: 'fast',
    prepared: { pdim: data.pdim, mu: shared(data.mu), basis: shared(data.basis), aug: shared(data.aug), augNorm2: shared(data.augNorm2) },
  });
  const again = await handed.nearest(queries, nq);
  const ref = nearestRowsReference(bank, queries, nq);
  assert.deepEqual(Array.from(again.index), Array.from(ref.index));
  assert.deepEqual(Array.from(again.dist2), Array.from(ref.dist2));
  // A bank much like this one (its first 1,000 rows) indexed with this one's centre and basis
  // rather than its own: they are borrowed, and the answers are still its own nearest rows.
  const part: SearchBank = { features: bank.features.subarray(0, 1000 * dim), rows: 1000, dim };
  const borrowed = await createSearcher(part, { kind: 'fast', threads: 2, similar: data });
  assert.deepEqual(borrowed.indexData()!.basis, data.basis);
  const own = nearestRowsReference(part, queries, nq);
  const got = await borrowed.nearest(queries, nq);
  assert.deepEqual(Array.from(got.index), Array.from(own.index));
  assert.deepEqual(Array.from(got.dist2), Array.from(own.dist2));
  borrowed.release();
  // The calls on two threads split the queries at whole rows (20 patches): 300 and 300 with
  // rowLength, 300 and 300 without; the threads: 1 calls stayed on one lane.
  assert.equal(laned.stats().inLanes - before, 3 * (nq / 2));
  laned.release();
  const s = fast.stats();
  assert.equal(s.queries, 5 * nq);
  // Real features are not isotropic: most proofs close among the first candidates.
  assert.ok(s.projected > 2 * nq, JSON.stringify(s));
  // The training photo's patches that are bank rows find themselves.
  const self = await fast.nearest(queries.subarray(400 * dim), 200);
  const inBank = Array.from({ length: 200 }, (_, p) => p).filter((p) => (2 * patches + p) % ROW_STRIDE === 0);
  assert.ok(inBank.length > 50 && inBank.every((p) => self.dist2[p] === 0));
});

test('real features: a max-only search and the image score alone give the exact largest weighted distance', async () => {
  const searcher = await createSearcher(bank, { kind: 'fast', threads: 1 });
  // Weights as a build leaves them (LOF values near 1), from a fixed sequence.
  const weights = Float32Array.from({ length: bank.rows }, (_, r) => 0.9 + (0.3 * ((r * 7919) % 1000)) / 1000);
  const bankSet: BankSet = { method: 'softpatch', grid: { h: 10, w: 20 }, cls: { ...bank, weights }, seg: null };
  const searchers = { cls: searcher, seg: null };
  const largest = (s: Float32Array): number => s.reduce((m, v) => Math.max(m, v), -Infinity);
  let settledEarly = 0;
  for (let photo = 0; photo < 3; photo++) {
    const query = queries.subarray(photo * 200 * dim, (photo + 1) * 200 * dim);
    for (const excluded of [null, 2, photo]) {
      const exclusion = excluded === null ? {} : { excludeSource: { sourceImage: bank.sourceImage, image: excluded } };
      const ref = nearestRowsReference(bank, query, 200, exclusion);
      for (const w of [weights, null]) {
        const got = await searcher.nearest(query, 200, { ...exclusion, rowLength: 20, maxOnly: { weights: w } });
        const exact = weightedScores(bankSet.cls, ref, w !== null);
        assert.equal(largest(weightedScores(bankSet.cls, got, w !== null)), largest(exact));
        // Every answer is a row the call may use, at its exact distance, never nearer than the nearest.
        for (let q = 0; q < 200; q++) {
          const row = got.index[q];
          assert.ok(row >= 0 && (excluded === null || bank.sourceImage[row] !== excluded));
          assert.equal(got.dist2[q], Math.fround(exactDist2(query, q * dim, bank.features, row * dim, dim)));
          assert.ok(got.dist2[q] >= ref.dist2[q]);
          if (got.index[q] !== ref.index[q]) settledEarly++;
        }
      }
      const opts = { searchers, ...(excluded === null ? {} : { excludeImage: excluded }) };
      assert.equal(await imageScore(bankSet, query, opts), (await scorePatches(bankSet, query, opts)).imageScore);
    }
  }
  // Some queries stopped at a row that is not their nearest: the pruning ran.
  assert.ok(settledEarly > 0);
  searcher.release();
  // As an inspection worker calls it: two threads, the tree stage split with a lane (each part
  // proves its own largest; the image score is the largest of them).
  // Two of the photos' rows of patches at once: enough queries for a lane.
  const laned = await createSearcher(bank, { kind: 'fast', threads: 2, lanes: 2 });
  const wide: BankSet = { ...bankSet, grid: { h: 20, w: 20 } };
  const onLanes = { searchers: { cls: laned, seg: null }, threads: 2 };
  for (let i = 0; i < 200 && laned.stats().inLanes === 0; i++) await imageScore(wide, queries.subarray(0, 400 * dim), onLanes);
  assert.ok(laned.stats().inLanes > 0, 'the lane took part');
  for (const from of [0, 200]) {
    const query = queries.subarray(from * dim, (from + 400) * dim);
    const exact = largest(weightedScores(wide.cls, nearestRowsReference(bank, query, 400), true));
    assert.equal(await imageScore(wide, query, onLanes), exact);
  }
  laned.release();
});

test('real features: the principal subspace is orthonormal and captures more variance than random directions', async () => {
  const k = 16;
  const sub = await principalSubspace(bank.features, bank.rows, dim, k, { seed: 3 });
  for (let a = 0; a < k; a++) {
    for (let b = 0; b <= a; b++) {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += sub.basis[a * dim + j] * sub.basis[b * dim + j];
      assert.ok(Math.abs(dot - (a === b ? 1 : 0)) < 1e-9, `basis ${a}·${b} = ${dot}`);
    }
  }
  const variance = (dir: Float64Array, off: number): number => {
    let s = 0;
    for (let r = 0; r < bank.rows; r++) {
      let p = 0;
      for (let j = 0; j < dim; j++) p += (bank.features[r * dim + j] - sub.mean[j]) * dir[off + j];
      s += p * p;
    }
    return s / bank.rows;
  };
  const top = variance(sub.basis, 0);
  assert.ok(top >= variance(sub.basis, (k - 1) * dim), 'sorted by variance');
  const rng = createRng(1);
  const random = Float64Array.from({ length: dim }, () => rng.next() - 0.5);
  const norm = Math.hypot(...random);
  assert.ok(
    top >
      5 *
        variance(
          random.map((v) => v / norm),
          0,
        ),
    'principal beats random',
  );
});

test('real features: the fast coreset picks what the reference loop picks on projected rows', async () => {
  const rng = createRng(7);
  const d = 128;
  const projector = new Projector([drawProjection(rng, d, dim)], dim);
  const y = new Float32Array(bank.rows * d);
  await projector.project(bank.features.slice(), bank.rows, [y], 0);
  const keep = new Uint8Array(bank.rows).fill(1);
  for (let r = 0; r < bank.rows; r += 11) keep[r] = 0;
  const input = {
    y,
    count: bank.rows,
    dim: d,
    keep,
    picks: 120,
    startPoints: drawStartPoints(rng, bank.rows, 10),
    firstPickRespectsMask: false,
  };
  const fast = await greedyCoreset(input, { threads: 1 });
  assert.deepEqual(Array.from(fast.selected), Array.from(greedyCoresetReference(input)));
  // One training photo left out (as `excludeSuspects` does): the repair keeps agreeing.
  const perPhoto = Math.ceil(patches / ROW_STRIDE);
  const narrowed = {
    ...input,
    keep: Uint8Array.from(keep, (k, r) => (r >= perPhoto && r < 2 * perPhoto ? 0 : k)),
    picks: 110,
    firstPickRespectsMask: true,
  };
  const repaired = await repairCoreset(narrowed, fast);
  assert.ok(repaired.orphans > 0, "the photo held some rows' closest picks");
  assert.deepEqual(Array.from(repaired.selected), Array.from(repairCoresetReference(narrowed, fast.selected)));
});
