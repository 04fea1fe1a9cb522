import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildBankSet,
  estimateBuildBytes,
  resolveEngineConfig,
  type DeepPartial,
  type Bank,
  type BuildProgress,
  type EngineConfig,
  featuresInMemory,
  type TrainingFeatures,
} from '../../src/engine/index.js';
import { createRng } from '../../src/engine/kernels/index.js';
import { isAppError } from '../../src/common/errors.js';

const GRID = { h: 4, w: 4 };
const P = 16;
const DIM = 32;

type Features = TrainingFeatures & { images: Float32Array[] };

function withImages(images: Float32Array[]): Features {
  return { ...featuresInMemory(images, GRID, DIM), images };
}

/** 14 images: 12 alike (a smooth per-position pattern + noise), the last 2 with a defect on 8 patches. */
function features(seed = 1, images = 14): Features {
  const rng = createRng(seed);
  const pattern = Array.from({ length: P * DIM }, () => rng.next());
  return withImages(
    Array.from({ length: images }, (_, b) =>
      Float32Array.from({ length: P * DIM }, (_, i) => {
        const defect = b >= images - 2 && Math.floor(i / DIM) < 8;
        return pattern[i] + (rng.next() - 0.5) * 0.1 + (defect ? 3 * rng.next() : 0);
      }),
    ),
  );
}

function config(partial: DeepPartial<EngineConfig> = {}): EngineConfig {
  return resolveEngineConfig({ projectionDim: 8, lofK: 5, ...partial });
}

function sameBank(a: Bank, b: Bank): void {
  assert.equal(a.rows, b.rows);
  assert.deepEqual(
    Buffer.from(a.features.buffer, a.features.byteOffset, a.features.byteLength),
    Buffer.from(b.features.buffer, b.features.byteOffset, b.features.byteLength),
  );
  assert.deepEqual(a.weights, b.weights);
  assert.deepEqual(a.sourceImage, b.sourceImage);
}

/** Every bank row is a training patch of its source image. */
function rowsComeFromSources(bank: Bank, f: Features): void {
  for (let m = 0; m < bank.rows; m++) {
    const row = bank.features.subarray(m * DIM, (m + 1) * DIM);
    const img = f.images[bank.sourceImage[m]];
    const found = Array.from({ length: P }, (_, p) => p).some((p) => img.subarray(p * DIM, (p + 1) * DIM).every((v, k) => v === row[k]));
    assert.ok(found, `bank row ${m} is not a patch of image ${bank.sourceImage[m]}`);
  }
}

test('softpatch: bank of ⌊ρN⌋ training rows, LOF weights, noise report ranks the defective images first', async () => {
  const f = features();
  const N = 14 * P;
  const r = await buildBankSet(f, config());
  const bank = r.bankSet.cls;
  assert.equal(r.bankSet.method, 'softpatch');
  assert.equal(r.bankSet.seg, null);
  assert.deepEqual(r.bankSet.grid, GRID);
  assert.equal(bank.rows, Math.floor(0.1 * N));
  assert.equal(bank.dim, DIM);
  rowsComeFromSources(bank, f);
  const distinct = new Set(Array.from({ length: bank.rows }, (_, m) => bank.features.subarray(m * DIM, (m + 1) * DIM).join()));
  assert.equal(distinct.size, bank.rows, 'no row picked twice');
  assert.ok(bank.weights.every((w) => w >= 0) && bank.weights.some((w) => w !== 1), 'weights are the LOF scores');
  // ⌊0.85·(N − 1)⌋ + 1 patches kept when scores have no ties.
  assert.equal(r.stats.removedShare, (N - (Math.floor(0.85 * (N - 1)) + 1)) / N);
  assert.equal(r.noise.length, 14);
  const byShare = [...r.noise].sort((a, b) => b.removedShare - a.removedShare).map((e) => e.image);
  assert.deepEqual(byShare.slice(0, 2).sort(), [12, 13]);
  for (const e of r.noise) assert.ok(e.maxScore >= e.meanScore && e.meanScore > 0);
  for (const key of ['projection', 'discrimination', 'removal', 'coresetCls', 'total'])
    assert.equal(typeof r.stats.timingsMs[key], 'number', key);
});

test('same features, config and seed give a byte-identical bank; another seed does not', async () => {
  const f = features(2);
  for (const method of ['softpatch', 'softpatch+'] as const) {
    const a = await buildBankSet(f, config({ method }));
    const b = await buildBankSet(f, config({ method }));
    sameBank(a.bankSet.cls, b.bankSet.cls);
    if (method === 'softpatch+') sameBank(a.bankSet.seg!, b.bankSet.seg!);
    assert.deepEqual(a.noise, b.noise);
  }
  const c = await buildBankSet(f, config({ seed: 1 }));
  const a = await buildBankSet(f, config());
  assert.notDeepEqual(c.bankSet.cls.features, a.bankSet.cls.features);
});

test('patchcore: no discrimination, weights 1, zero noise figures', async () => {
  const r = await buildBankSet(features(), config({ method: 'patchcore' }));
  assert.ok(r.bankSet.cls.weights.every((w) => w === 1));
  assert.equal(r.stats.removedShare, 0);
  assert.ok(r.noise.every((e) => e.removedShare === 0 && e.meanScore === 0 && e.maxScore === 0));
  rowsComeFromSources(r.bankSet.cls, features());
});

test('softWeights off: weights 1 but the same removal', async () => {
  const f = features();
  const on = await buildBankSet(f, config());
  const off = await buildBankSet(f, config({ softWeights: false }));
  assert.ok(off.bankSet.cls.weights.every((w) => w === 1));
  assert.deepEqual(off.bankSet.cls.sourceImage, on.bankSet.cls.sourceImage);
  assert.deepEqual(off.noise, on.noise);
});

test('softpatch+ with only LOF and τ_cls = τ_seg = τ reproduces the SoftPatch bank (spec §7.2 check)', async () => {
  const f = features(3);
  const soft = await buildBankSet(f, config());
  const plus = await buildBankSet(f, config({ method: 'softpatch+', plus: { discriminators: ['lof'], tauCls: 0.15, tauSeg: 0.15 } }));
  sameBank(plus.bankSet.cls, soft.bankSet.cls);
  sameBank(plus.bankSet.seg!, soft.bankSet.cls);
  assert.equal(plus.stats.removedShare, soft.stats.removedShare);
});

test('softpatch+: two banks, their own ratios, fused weights and report', async () => {
  const f = features(4);
  const N = 14 * P;
  const r = await buildBankSet(f, config({ method: 'softpatch+', plus: { coresetRatioSeg: 0.2, weightSource: 'fused' } }));
  assert.equal(r.bankSet.cls.rows, Math.floor(0.1 * N));
  assert.equal(r.bankSet.seg!.rows, Math.floor(0.2 * N));
  // Fused rank scores lie in [0, 1]: weights 1 + u in [1, 2].
  assert.ok(r.bankSet.seg!.weights.every((w) => w >= 1 && w <= 2));
  assert.ok(r.noise.every((e) => e.maxScore <= 1 && e.meanScore >= 0));
  assert.ok(r.stats.timingsMs.coresetSeg !== undefined);
  // Without a shared projection the segmentation bank uses its own draws (drawn after the shared ones).
  const separate = await buildBankSet(f, config({ method: 'softpatch+', plus: { sharedProjection: false } }));
  const shared = await buildBankSet(f, config({ method: 'softpatch+' }));
  sameBank(separate.bankSet.cls, shared.bankSet.cls);
  assert.notDeepEqual(separate.bankSet.seg!.sourceImage, shared.bankSet.seg!.sourceImage);
});

test('other spaces and discriminators: full-dimension discrimination, identity projection, nearest, gaussian', async () => {
  const f = features(5);
  for (const partial of [
    { discriminatorSpace: 'full' },
    { projectionDim: DIM },
    { discriminator: 'nearest' },
    { discriminator: 'gaussian' },
  ] as const) {
    const r = await buildBankSet(f, config(partial));
    assert.equal(r.bankSet.cls.rows, Math.floor(0.1 * 14 * P), JSON.stringify(partial));
    rowsComeFromSources(r.bankSet.cls, f);
    if ('discriminator' in partial)
      assert.ok(
        r.bankSet.cls.weights.every((w) => w >= 1),
        'nearest/gaussian weights carry +1',
      );
  }
});

test('progress: denoising then coreset, monotone, ending at the total', async () => {
  const seen: BuildProgress[] = [];
  await buildBankSet(features(), config({ method: 'softpatch+' }), { onProgress: (p) => seen.push({ ...p }) });
  const stages = seen.map((p) => p.stage);
  assert.equal(stages.indexOf('coreset'), stages.lastIndexOf('denoising') + 1);
  for (const stage of ['denoising', 'coreset'] as const) {
    const ps = seen.filter((p) => p.stage === stage);
    assert.ok(ps.every((p, i) => i === 0 || p.done >= ps[i - 1].done));
    assert.equal(ps.at(-1)!.done, ps.at(-1)!.total);
  }
  assert.equal(seen.at(-1)!.total, 2 * Math.floor(0.1 * 14 * P));
});

test('refusals: over capacity (with the numbers), cancelled, bad input', async () => {
  const f = features();
  const need = estimateBuildBytes(14, P, DIM, config());
  assert.ok(need > 14 * P * DIM * 4);
  await assert.rejects(
    buildBankSet(f, config(), { maxBytes: need - 1 }),
    (err: unknown) => isAppError(err) && err.code === 'over_capacity' && /14 images × 16 patches × 32 dims/.test(err.message),
  );
  await buildBankSet(f, config(), { maxBytes: need });
  await assert.rejects(
    buildBankSet(f, config(), { signal: AbortSignal.abort() }),
    (err: unknown) => isAppError(err) && err.code === 'cancelled',
  );
  const abort = new AbortController();
  const run = buildBankSet(f, config(), {
    signal: abort.signal,
    onProgress: (p) => p.stage === 'denoising' && p.done > 3 && abort.abort(),
  });
  await assert.rejects(run, (err: unknown) => isAppError(err) && err.code === 'cancelled');
  const input = (err: unknown): boolean => isAppError(err) && err.code === 'engine_input';
  await assert.rejects(buildBankSet(withImages([]), config()), input);
  await assert.rejects(buildBankSet(withImages([...f.images.slice(1), new Float32Array(3)]), config()), input);
  const nan = f.images.map((x) => x.slice());
  nan[4][17] = Number.NaN;
  await assert.rejects(buildBankSet(withImages(nan), config()), (err: unknown) => input(err) && /NaN/.test((err as Error).message));
  await assert.rejects(buildBankSet(f, { ...config(), coresetRatio: 2 }), input);
});

test('features read image by image (a fresh copy per read, as from the service spill file) give the same bank set', async () => {
  const f = features();
  let reads = 0;
  const streamed: TrainingFeatures = {
    count: f.count,
    grid: GRID,
    dim: DIM,
    read: async (b) => {
      reads++;
      return f.images[b].slice();
    },
    resident: false,
  };
  for (const method of ['softpatch', 'softpatch+'] as const) {
    const a = await buildBankSet(f, config({ method }));
    const b = await buildBankSet(streamed, config({ method }));
    sameBank(a.bankSet.cls, b.bankSet.cls);
    if (a.bankSet.seg) sameBank(a.bankSet.seg, b.bankSet.seg!);
    assert.deepEqual(a.noise, b.noise);
  }
  // Each build reads every image once to project it, and the images holding bank rows once per bank.
  assert.ok(reads >= 2 * f.count, `${reads} reads`);
});

test('the memory estimate leaves out features read from elsewhere (unless the discriminators need them all) and counts a second coreset', () => {
  const inMemory = estimateBuildBytes(200, 784, 1024, config());
  const spilled = estimateBuildBytes(200, 784, 1024, config(), { featuresInMemory: false });
  assert.equal(inMemory - spilled, 198 * 784 * 1024 * 4);
  const full = config({ discriminatorSpace: 'full' });
  assert.equal(estimateBuildBytes(200, 784, 1024, full, { featuresInMemory: false }), estimateBuildBytes(200, 784, 1024, full));
  // A second coreset holds a second set of banks: ⌊0.1 · N⌋ rows of 1024 floats, a weight and a source each.
  const banks = Math.floor(0.1 * 200 * 784) * (1024 * 4 + 8);
  assert.equal(estimateBuildBytes(200, 784, 1024, config(), { secondCoreset: true }) - inMemory, banks);
});

test('views: every view is denoised and offered to the coreset; bank size, rows, the noise report and leaving a photo out count photos', async () => {
  const photos = features(3).images;
  // View 1 is the photo turned by half a turn: on a row-major grid its patches in reverse order,
  // and (as a backbone sees a turned photo) not quite the same features.
  const turned = (img: Float32Array): Float32Array => {
    const out = new Float32Array(img.length);
    for (let p = 0; p < P; p++) out.set(img.subarray(p * DIM, (p + 1) * DIM), (P - 1 - p) * DIM);
    return out.map((v) => v + 0.01);
  };
  const views = photos.flatMap((img) => [img, turned(img)]);
  const f = featuresInMemory(views, GRID, DIM, 2);
  assert.equal(f.count, 14);
  assert.throws(
    () => featuresInMemory(views.slice(1), GRID, DIM, 2),
    (err: unknown) => isAppError(err) && err.code === 'engine_input',
  );
  const r = await buildBankSet(f, config({ coresetRatio: 0.2 }));
  const bank = r.bankSet.cls;
  assert.equal(bank.rows, Math.floor(0.2 * 14 * P), 'ρ rows per patch of a photo as uploaded');
  const viewOf = (m: number): number => {
    const row = bank.features.subarray(m * DIM, (m + 1) * DIM);
    const b = bank.sourceImage[m];
    for (const v of [0, 1]) {
      const img = views[b * 2 + v];
      for (let p = 0; p < P; p++) if (img.subarray(p * DIM, (p + 1) * DIM).every((x, k) => x === row[k])) return v;
    }
    return -1;
  };
  const picked = Array.from({ length: bank.rows }, (_, m) => viewOf(m));
  assert.ok(
    picked.every((v) => v >= 0),
    'every row is a patch of a view of its photo',
  );
  assert.ok(picked.includes(1), 'the turned views are offered to the coreset');
  assert.equal(r.noise.length, 14);
  assert.deepEqual(
    [...r.noise]
      .sort((a, b) => b.removedShare - a.removedShare)
      .slice(0, 2)
      .map((e) => e.image)
      .sort(),
    [12, 13],
  );
  assert.equal(r.removed.length, 14 * P, 'the removal overlay is of the photos as uploaded');
  for (const how of ['coreset', 'repair'] as const) {
    const without = await r.rebuildWithout(new Set([13]), { how });
    assert.equal(without.cls.rows, Math.floor(0.2 * 13 * P), how);
    assert.ok(!without.cls.sourceImage.includes(13), `${how}: no view of a left-out photo stays in the bank`);
  }
  assert.ok(
    estimateBuildBytes(14, P, DIM, config(), { views: 2 }) - estimateBuildBytes(14, P, DIM, config()) > 14 * P * DIM * 4,
    'views count in the memory estimate',
  );
});
