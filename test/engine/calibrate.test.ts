/**
 * The label-free decision: the Gumbel tail, the suspect evidence, `decide`, `excludeSuspects`; calibration edge cases
 * and the rule that ties regions and colours to the image decision.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  calibrate,
  decide,
  fitGumbel,
  gumbelQuantile,
  robustSpread,
  scoreLeaveOneOut,
  SPEC_DECISION_RULES,
  suspectReport,
  tailThreshold,
} from '../../src/engine/calibrate/index.js';
import { buildBankSet, featuresInMemory, resolveEngineConfig } from '../../src/engine/index.js';
import { median } from '../../src/common/stats.js';
import { createRng } from '../../src/engine/kernels/index.js';
import { anomalyMap, decisionMap, scorePatches } from '../../src/engine/score/index.js';
import type { BankSet } from '../../src/engine/index.js';
import { bankOf } from '../helpers/banks.js';
import { anomalyRegions } from '../../src/render/heatmap.js';

function gumbelSample(n: number, location: number, scale: number, seed: number): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => location - scale * Math.log(-Math.log(Math.max(1e-12, rng.next()))));
}

const entry = (image: number, removedShare: number) => ({ image, removedShare, meanScore: 1, maxScore: 1, topScore: 1 });

test('Gumbel fit by L-moments recovers location and scale; its quantile rejects about α of new normal scores', () => {
  const fit = fitGumbel(gumbelSample(5000, 200, 15, 1));
  assert.ok(Math.abs(fit.location - 200) < 1.5, `location ${fit.location}`);
  assert.ok(Math.abs(fit.scale - 15) < 1, `scale ${fit.scale}`);
  const t = gumbelQuantile(fit, 0.01);
  const fresh = gumbelSample(20000, 200, 15, 2);
  const rate = fresh.filter((v) => v > t).length / fresh.length;
  assert.ok(rate > 0.006 && rate < 0.014, `false-alarm rate ${rate}`);
});

test('tail threshold: the bootstrap band says how sure it is and narrows with more photos', () => {
  const small = tailThreshold(gumbelSample(40, 200, 15, 3), 0.01);
  const large = tailThreshold(gumbelSample(400, 200, 15, 4), 0.01);
  for (const t of [small, large]) assert.ok(t.bootstrap.p05 < t.threshold && t.threshold < t.bootstrap.p95, JSON.stringify(t));
  assert.ok(small.bootstrap.sd > 2 * large.bootstrap.sd, `${small.bootstrap.sd} vs ${large.bootstrap.sd}`);
  assert.deepEqual(tailThreshold([1, 2, 3, 4, 5], 0.01), tailThreshold([1, 2, 3, 4, 5], 0.01), 'seeded, reproducible');
});

test('suspects by calibration score: outliers flagged, with the gap and the borderline count', () => {
  const scores = [...Array.from({ length: 100 }, (_, i) => 190 + 0.2 * i), 400, 420];
  const r = suspectReport(scores, 'calibrationScore');
  assert.deepEqual(r.suspects, [100, 101]);
  // MAD ≈ 5.1 (uniform ± 10), fence ≈ 226.5; the gap is measured from the highest other photo (209.8).
  assert.ok(Math.abs(r.spread - 1.4826 * 5.1) < 0.1, `spread ${r.spread}`);
  assert.ok(r.gap !== null && Math.abs(r.gap - (400 - 209.8) / r.spread) < 1e-9, `gap ${r.gap}`);
  assert.equal(r.borderline, 0);
  const none = suspectReport([1, 2, 3, 4, 5], 'calibrationScore');
  assert.deepEqual(none.suspects, []);
  assert.equal(none.gap, null);
});

test('decide: evidence picks the suspects, the rule picks the threshold, suspects stay out of it', () => {
  const scores = [...gumbelSample(60, 200, 10, 6), 500];
  // Removed shares do not show photo 60 (a small defect); its calibration score does.
  const noise = scores.map((_, i) => entry(i, 0.1 + 0.001 * (i % 7)));
  const spec = decide(scores, noise, SPEC_DECISION_RULES);
  assert.deepEqual(spec.suspects.suspects, []);
  assert.equal(spec.basis, 61);
  assert.equal(spec.threshold, spec.median + 3.5 * spec.spread);
  const byScore = decide(scores, noise, { ...SPEC_DECISION_RULES, suspectEvidence: 'calibrationScore', thresholdRule: 'tail' });
  assert.deepEqual(byScore.suspects.suspects, [60]);
  assert.equal(byScore.basis, 60);
  assert.equal(byScore.threshold, byScore.tail.threshold);
  assert.ok(byScore.threshold < 500 && byScore.threshold > Math.max(...scores.slice(0, 60)) - 20);
});

const grid = { h: 2, w: 2 };
/** Four patches of dim 1 per image. */
const img = (...v: number[]): Float32Array => Float32Array.from(v);

test('calibration of a tiny bank whose rows all come from one image', async () => {
  // Every row belongs to image 0: leaving image 0 out of the bank would leave nothing to search.
  const cls = bankOf([[0], [1]], [1, 1], [0, 0]);
  const bankSet: BankSet = { method: 'softpatch', grid, cls, seg: null };
  const images = [img(0, 1, 0, 1), img(0.5, 1, 0, 1), img(0, 1.5, 0, 1), img(0, 1, 0.2, 1)];
  const noise = images.map((_, image) => ({ image, removedShare: 0, meanScore: 0, maxScore: 0, topScore: 0 }));
  const cal = await calibrate({
    bankSet,
    features: featuresInMemory(images, grid, 1),
    noise,
    rules: SPEC_DECISION_RULES,
    mapSize: { h: 8, w: 8 },
    blurSigma: 1,
  });
  assert.equal(cal.scores.length, 4);
  assert.ok(cal.scores.every(Number.isFinite));
  // Image 0 is scored against the whole bank (it finds itself) and kept out of m and s.
  assert.equal(cal.scores[0], 0);
  assert.deepEqual(cal.excluded, [0]);
  assert.ok(cal.threshold > 0, `threshold ${cal.threshold}`);
});

test('softpatch+: regions of the decision map are non-empty exactly when the image is anomalous', async () => {
  // The classification bank sees a strong outlier in patch 3; the segmentation bank, with other
  // rows and weights, scores it lower, and the blur lowers the peak further.
  const cls = bankOf([[0], [10]], [1, 1], [0, 1]);
  const seg = bankOf([[0], [3]], [0.2, 0.2], [0, 1]);
  const bankSet: BankSet = { method: 'softpatch+', grid, cls, seg };
  const ps = await scorePatches(bankSet, img(0, 0, 0, 2));
  assert.equal(ps.imageScore, 4);
  const raw = anomalyMap(ps.mapScores, grid, 16, 16, 2);
  const threshold = 3.9; // anomalous: 4 > 3.9
  const geometry = {
    originalWidth: 16,
    originalHeight: 16,
    resizedWidth: 16,
    resizedHeight: 16,
    cropLeft: 0,
    cropTop: 0,
    cropWidth: 16,
    cropHeight: 16,
  };
  // The mismatch the rule removes: the plain blurred map never reaches the image threshold.
  assert.deepEqual(anomalyRegions(raw, 16, 16, geometry, threshold), []);
  const map = decisionMap(raw, ps.imageScore);
  assert.equal(Math.max(...map), ps.imageScore);
  const regions = anomalyRegions(map, 16, 16, geometry, threshold);
  assert.ok(regions.length >= 1);
  assert.ok(regions[0].x >= 8 && regions[0].y >= 8, `the region sits on patch 3: ${JSON.stringify(regions[0])}`);
  // A normal image (score at or below the threshold) has no region.
  assert.deepEqual(anomalyRegions(map, 16, 16, geometry, ps.imageScore), []);
  // A flat map carries no location: the whole frame takes the image score.
  assert.deepEqual([...decisionMap(new Float32Array(4), 2)], [2, 2, 2, 2]);
});

test('leave-one-out: a second lane scores every photo as one lane does; a photo that cannot be read stops the pass', async () => {
  const rng = createRng(5);
  const g = { h: 4, w: 4 };
  const dim = 24;
  const photos = 20;
  const images = Array.from({ length: photos }, () => Float32Array.from({ length: 16 * dim }, () => rng.next()));
  // Every other patch of every photo, so that each photo has rows of its own to leave out.
  const rows: number[][] = [];
  const sources: number[] = [];
  images.forEach((image, b) => {
    for (let p = 0; p < 16; p += 2) {
      rows.push([...image.subarray(p * dim, (p + 1) * dim)]);
      sources.push(b);
    }
  });
  const bankSet: BankSet = {
    method: 'softpatch',
    grid: g,
    cls: bankOf(
      rows,
      rows.map((_, i) => 1 + (i % 3) / 10),
      sources,
    ),
    seg: null,
  };
  const features = featuresInMemory(images, g, dim);
  const base = { bankSet, features, mapSize: { h: 16, w: 16 }, blurSigma: 1 };
  const one = await scoreLeaveOneOut({ ...base, threads: 1 });
  const done: number[] = [];
  const two = await scoreLeaveOneOut({ ...base, threads: 2, onProgress: (d, total) => done.push(d, total) });
  assert.deepEqual(two.scores, one.scores);
  assert.equal(two.pixelMedian, one.pixelMedian);
  assert.ok(
    one.scores.every((s) => s > 0),
    'no photo found its own rows',
  );
  assert.deepEqual(done, Array.from({ length: photos }, (_, i) => [i + 1, photos]).flat());
  const unreadable = {
    ...features,
    read: async (b: number, v?: number) => {
      if (b === 13) throw new Error('photo 13 is gone');
      return features.read(b, v);
    },
  };
  await assert.rejects(scoreLeaveOneOut({ ...base, features: unreadable, threads: 2 }), /photo 13 is gone/);
});

test('excludeSuspects: the bank is chosen again without any patch of a suspect; a test photo with its defect scores high', async () => {
  // Twelve normal photos of four 2-d patches and one (image 12) with a defect patch (10, 10).
  const normal = Array.from({ length: 12 }, (_, i) => [0.01 * i, 0, 1 + 0.01 * i, 0, 0.02 * i, 1, 1 - 0.01 * i, 1]);
  const images = [...normal, [0, 0, 1, 0, 0, 1, 10, 10]].map((p) => Float32Array.from(p));
  const features = featuresInMemory(images, grid, 2);
  // PatchCore keeps every patch as a candidate, and the coreset keeps nearly all of them.
  const config = resolveEngineConfig({ method: 'patchcore', projectionDim: 2, coresetRatio: 0.99 });
  const built = await buildBankSet(features, config);
  assert.ok(built.bankSet.cls.sourceImage.includes(12), 'the built bank holds a row of the defective photo');
  const base = { bankSet: built.bankSet, features, noise: built.noise, mapSize: { h: 4, w: 4 }, blurSigma: 1 };
  const rules = { ...SPEC_DECISION_RULES, suspectEvidence: 'calibrationScore' as const };
  const kept = await calibrate({ ...base, rules });
  const on = { ...rules, excludeSuspects: true };
  await assert.rejects(calibrate({ ...base, rules: on }), /rebuild/);
  const steps: [number, number][] = [];
  const cal = await calibrate({
    ...base,
    rules: on,
    rebuild: (without, onPicks) => built.rebuildWithout(without, { onProgress: (p) => onPicks(p.done, p.total) }),
    onProgress: (done, total) => steps.push([done, total]),
  });
  // Progress: two passes of 13 photos and the rebuild's picks between them, never backwards, ending at done = total.
  const picks = Math.floor(0.99 * 12 * 4);
  assert.deepEqual(steps.at(-1), [26 + picks, 26 + picks]);
  assert.ok(
    steps.every(([d, t], i) => d <= t && (i === 0 || d >= steps[i - 1][0])),
    JSON.stringify(steps),
  );
  assert.ok(
    steps.some(([d, t]) => d === 13 + picks && t === 26 + picks),
    'the rebuild reports its picks',
  );
  for (const c of [kept, cal]) assert.deepEqual(c.suspects.suspects, [12]);
  assert.equal(kept.bankSet, built.bankSet, 'switch off: the built bank is kept');
  // As many rows per patch of the remaining photos, none from the suspect.
  assert.equal(cal.bankSet.cls.rows, Math.floor(0.99 * 12 * 4));
  assert.ok(!cal.bankSet.cls.sourceImage.includes(12), 'no row of the suspect');
  // The evidence is the built bank's score; the threshold rests on the new bank's scores of the others.
  assert.deepEqual(cal.suspectScores, kept.scores);
  const m = median(cal.scores.slice(0, 12));
  assert.equal(cal.median, m);
  assert.equal(cal.threshold, m + 3.5 * robustSpread(cal.scores.slice(0, 12), m));
  assert.deepEqual(cal.excluded, [12]);
  // A test photo with the same defect finds the defect's row in the built bank, not in the new one.
  const probe = images[12];
  assert.ok((await scorePatches(built.bankSet, probe)).imageScore < 1e-6);
  const excluded = (await scorePatches(cal.bankSet, probe)).imageScore;
  assert.ok(excluded > 100 && excluded > cal.threshold, `score ${excluded}, threshold ${cal.threshold}`);
  // The rules say how the bank is chosen again; the repaired bank holds no row of the suspect either.
  const asked: string[] = [];
  const repaired = await calibrate({
    ...base,
    rules: { ...on, suspectRebuild: 'repair' },
    rebuild: (without, _onPicks, how) => {
      asked.push(how);
      return built.rebuildWithout(without, { how });
    },
  });
  assert.deepEqual(asked, ['repair']);
  assert.equal(repaired.bankSet.cls.rows, cal.bankSet.cls.rows);
  assert.ok(!repaired.bankSet.cls.sourceImage.includes(12), 'repair: no row of the suspect');
  assert.ok((await scorePatches(repaired.bankSet, probe)).imageScore > repaired.threshold);
});

test('suspect fence gumbel: the 1 − 1/B quantile of the robust Gumbel; a long clean tail is flagged less', () => {
  // Exact Gumbel quantiles: location 100, scale 10; the fence at 1 − 1/B.
  const B = 200;
  const scores = Array.from({ length: B }, (_, i) => 100 - 10 * Math.log(-Math.log((i + 0.5) / B)));
  const g = suspectReport(scores, 'calibrationScore', -Infinity, 'gumbel');
  const expected = 100 - 10 * Math.log(-Math.log(1 - 1 / B));
  assert.ok(Math.abs(g.fence - expected) < 1.5, `fence ${g.fence} vs ${expected}`);
  assert.ok(g.suspects.length <= 1, `${g.suspects.length} clean photos flagged`);
  const mad = suspectReport(scores, 'calibrationScore');
  assert.ok(mad.suspects.length > g.suspects.length, `mad ${mad.suspects.length}, gumbel ${g.suspects.length}`);
  // The threshold (and the bank) still leave out the mad fence's outliers: the lower fence.
  const d = decide(
    scores,
    scores.map((_, i) => entry(i, 0.1)),
    { ...SPEC_DECISION_RULES, suspectEvidence: 'calibrationScore', suspectFence: 'gumbel' },
  );
  assert.deepEqual(d.suspects.suspects, g.suspects);
  assert.deepEqual(d.leftOut, mad.suspects);
  assert.equal(d.basis, B - mad.suspects.length);
  // A clear outlier stays a suspect (with at most the expected one clean photo).
  const outlier = suspectReport([...scores, 400], 'calibrationScore', -Infinity, 'gumbel').suspects;
  assert.ok(outlier.includes(B) && outlier.length <= 2, JSON.stringify(outlier));
});
