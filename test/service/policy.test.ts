/** Pure parts of the service: line config merging, the threshold policy, the noise report, the build estimate. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAppError } from '../../src/common/errors.js';
import type { BackboneManifest } from '../../src/backbone/types.js';
import { median } from '../../src/common/stats.js';
import { robustSpread, suspectImages, thresholdFrom } from '../../src/engine/calibrate/index.js';
import { estimateBuildBytes } from '../../src/engine/index.js';
import { assertWithinCapacity, estimateBuild, turnedEstimate } from '../../src/service/capacity.js';
import { DEFAULT_LINE_CONFIG, effectiveThreshold, engineConfigFor, mergeLineConfig } from '../../src/service/line-config.js';
import { noiseReportEntries } from '../../src/service/noise-report.js';
import type { CalibrationRecord, ImageRecord } from '../../src/store/types.js';

test('line config: documented defaults, partial merges, cross-field rules', () => {
  assert.deepEqual(DEFAULT_LINE_CONFIG, {
    method: 'softpatch',
    discriminator: 'lof',
    lofK: 6,
    discriminatorWindow: 0,
    trainRotations: 'auto',
    align: 'none',
    removalQuantile: 0.15,
    coresetRatio: 0.1,
    resize: 224,
    crop: null,
    threshold: { policy: 'auto', sensitivity: 3.5, rule: 'fence', falseAlarmRate: 0.01 },
    suspectShare: 0.3,
    suspectEvidence: 'calibrationScore',
    suspectFence: 'gumbel',
    excludeSuspects: true,
    suspectRebuild: 'repair',
    trainImages: null,
    keepBanks: 10,
    pruneImages: false,
  });
  const merged = mergeLineConfig(DEFAULT_LINE_CONFIG, { coresetRatio: 0.01, threshold: { policy: 'fixed', value: 2 } });
  assert.equal(merged.coresetRatio, 0.01);
  assert.deepEqual(merged.threshold, { policy: 'fixed', value: 2, sensitivity: 3.5, rule: 'fence', falseAlarmRate: 0.01 });
  // A line stored before a setting existed gets its default.
  const { suspectEvidence: _, ...old } = DEFAULT_LINE_CONFIG;
  assert.equal(mergeLineConfig(old as typeof DEFAULT_LINE_CONFIG, {}).suspectEvidence, 'calibrationScore');
  assert.equal(DEFAULT_LINE_CONFIG.coresetRatio, 0.1, 'defaults are not mutated');
  const back = mergeLineConfig(merged, { threshold: { policy: 'auto' } });
  assert.equal(back.threshold.policy, 'auto');
  assert.throws(
    () => mergeLineConfig(DEFAULT_LINE_CONFIG, { threshold: { policy: 'fixed' } }),
    (e) => isAppError(e) && e.code === 'validation_failed',
  );
  assert.throws(
    () => mergeLineConfig(DEFAULT_LINE_CONFIG, { resize: 100, crop: 112 }),
    (e) => isAppError(e) && e.status === 400,
  );
  assert.deepEqual(mergeLineConfig(DEFAULT_LINE_CONFIG, { resize: null, crop: 112 }).resize, null);
  assert.throws(
    () => mergeLineConfig(mergeLineConfig(DEFAULT_LINE_CONFIG, { align: 'axis' }), { trainRotations: '180' }),
    (e) => isAppError(e) && e.code === 'validation_failed',
    'a PATCH that adds turns to an aligned line is refused',
  );
  assert.equal(mergeLineConfig(DEFAULT_LINE_CONFIG, { align: 'axis' }).trainRotations, 'auto', 'auto learns no turns when aligned');
  assert.equal(engineConfigFor(mergeLineConfig(DEFAULT_LINE_CONFIG, { discriminatorWindow: 2 })).discriminatorWindow, 2);
  const engine = engineConfigFor(mergeLineConfig(DEFAULT_LINE_CONFIG, { method: 'patchcore', lofK: 5 }));
  assert.equal(engine.method, 'patchcore');
  assert.equal(engine.lofK, 5);
  assert.equal(engine.blurSigma, 4);
});

test('threshold: m + k·s over non-suspects; request > fixed line value > auto with the line k', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  const scores = [1.0, 1.1, 0.9, 1.2, 0.8, 9.0, 8.0];
  const suspects = new Set([5, 6]);
  const t = thresholdFrom(scores, suspects, 3.5);
  assert.equal(t.median, 1.0);
  assert.ok(Math.abs(t.spread - 1.4826 * 0.1) < 1e-12);
  assert.ok(Math.abs(t.threshold - (1 + 3.5 * 1.4826 * 0.1)) < 1e-12);
  const dragged = thresholdFrom(scores, new Set(), 3.5);
  assert.ok(dragged.threshold > t.threshold, 'suspects would drag the threshold up');
  assert.ok(robustSpread([2, 2, 2, 2]) > 0, 'a uniform set still gets a positive spread');

  const cal: CalibrationRecord = {
    imageScores: scores,
    excluded: [],
    median: 1,
    spread: 0.2,
    sensitivity: 3.5,
    threshold: 1.7,
    pixelMedian: 0.1,
  };
  const fence = { ...DEFAULT_LINE_CONFIG.threshold, rule: 'fence' as const };
  const line = { ...DEFAULT_LINE_CONFIG, threshold: fence };
  assert.ok(Math.abs(effectiveThreshold(cal, line) - 1.7) < 1e-12);
  assert.ok(Math.abs(effectiveThreshold(cal, { ...line, threshold: { ...fence, policy: 'auto', sensitivity: 1 } }) - 1.2) < 1e-12);
  assert.equal(effectiveThreshold(cal, { ...line, threshold: { ...fence, policy: 'fixed', value: 1.9, sensitivity: 3.5 } }), 1.9);
  assert.equal(effectiveThreshold(cal, { ...line, threshold: { ...fence, policy: 'fixed', value: 1.9, sensitivity: 3.5 } }, 5), 5);
  // Rule "tail": the recorded Gumbel at the line's current false-alarm rate; a bank without a tail falls back to the fence.
  const tail = { ...line, threshold: { ...fence, rule: 'tail' as const, falseAlarmRate: 0.01 } };
  assert.ok(Math.abs(effectiveThreshold(cal, tail) - 1.7) < 1e-12);
  const withTail: CalibrationRecord = {
    ...cal,
    tail: { location: 1, scale: 0.1, falseAlarmRate: 0.05, threshold: 0, bootstrap: { resamples: 0, sd: 0, p05: 0, p95: 0 } },
  };
  assert.ok(Math.abs(effectiveThreshold(withTail, tail) - (1 - 0.1 * Math.log(-Math.log(0.99)))) < 1e-12);
  // Policy validation: the threshold comes from the bank's scores of the labelled photos.
  const scored = [1, 2, 3, 10, 11, 12].map((score, i) => ({
    id: String(i),
    filename: `${i}.png`,
    label: (i < 3 ? 'good' : 'defective') as 'good' | 'defective',
    score,
  }));
  const validation = mergeLineConfig(line, { threshold: { policy: 'validation' } });
  assert.equal(validation.threshold.target, 'f1');
  assert.equal(effectiveThreshold(cal, validation, undefined, scored), 6.5);
  assert.equal(effectiveThreshold(cal, validation, 5, scored), 5, '?threshold= still wins');
  const recall = mergeLineConfig(line, { threshold: { policy: 'validation', target: 'recall' } });
  assert.equal(recall.threshold.recall, 0.99);
  assert.equal(effectiveThreshold(cal, recall, undefined, scored), 6.5);
  assert.throws(() => effectiveThreshold(cal, validation), /evaluation/);
});

test('noise report: suspects by removed share, most suspicious first', () => {
  const images = ['a', 'b', 'c', 'd'].map((id) => ({ id, filename: `${id}.png` }));
  const entries = noiseReportEntries(
    [
      { image: 0, removedShare: 0.1, meanScore: 1, maxScore: 2, topScore: 2 },
      { image: 1, removedShare: 0.5, meanScore: 3, maxScore: 9, topScore: 9 },
      { image: 2, removedShare: 0.1, meanScore: 1, maxScore: 5, topScore: 5 },
      { image: 3, removedShare: 0.31, meanScore: 2, maxScore: 4, topScore: 4 },
    ],
    images,
    [1, 2, 3, 4],
    new Set([1, 3]),
    new Set([1, 2, 3]),
    'removedShare',
  );
  assert.deepEqual(
    entries.map((e) => e.id),
    ['b', 'd', 'c', 'a'],
  );
  assert.deepEqual(
    entries.map((e) => e.suspect),
    [true, true, false, false],
  );
  assert.deepEqual(
    entries.map((e) => e.leftOut),
    [true, true, true, false],
  );
  assert.equal(entries[0].calibrationScore, 2);
  assert.equal(entries[0].filename, 'b.png');
});

test('suspects: removed share above both suspectShare and the robust fence of this build', () => {
  const entry = (image: number, removedShare: number) => ({ image, removedShare, meanScore: 1, maxScore: 1, topScore: 1 });
  // 20 clean photos around 0.1 like real ones (τ removes patches from clean photos too; two reach
  // 0.30 and 0.31, above a fixed 0.3), three defective ones around half (fence here ≈ 0.33).
  const clean = Array.from({ length: 20 }, (_, i) => entry(i, 0.04 + 0.007 * i));
  clean[5] = entry(5, 0.305);
  clean[9] = entry(9, 0.31);
  const noisy = [...clean, entry(20, 0.55), entry(21, 0.6), entry(22, 0.45)];
  assert.deepEqual(
    [...suspectImages(noisy, 0.3)].sort((a, b) => a - b),
    [20, 21, 22],
  );
  // The absolute floor: an outlier that lost little is not a suspect.
  const tidy = [...Array.from({ length: 20 }, (_, i) => entry(i, 0.1)), entry(20, 0.25)];
  assert.equal(suspectImages(tidy, 0.3).size, 0);
  assert.deepEqual([...suspectImages(tidy, 0.2)], [20]);
});

test('build estimate: patches from the geometry, refused over MAX_BANK_BYTES with the numbers', () => {
  const manifest = { output: { kind: 'patchFeatures', name: 'f', dim: 1024, stride: 8 } } as BackboneManifest;
  const img = (w: number, h: number) => ({ width: w, height: h }) as ImageRecord;
  const engine = engineConfigFor(DEFAULT_LINE_CONFIG);
  const spec = { ...DEFAULT_LINE_CONFIG, resize: 256, crop: 224 };
  const e = estimateBuild([img(900, 900), img(300, 257)], spec, engine, manifest);
  assert.equal(e.patchesPerImage, 28 * 28);
  assert.equal(e.bytes, estimateBuildBytes(2, 784, 1024, engine, { featuresInMemory: false, secondCoreset: spec.excludeSuspects }));
  // Turned views are denoised and offered to the coreset too: four times the working set, not the bank.
  const turned = estimateBuild([img(900, 900), img(300, 257)], { ...spec, trainRotations: '90' }, engine, manifest);
  assert.equal(turned.views, 4);
  assert.equal(
    turned.bytes,
    estimateBuildBytes(2, 784, 1024, engine, { featuresInMemory: false, secondCoreset: spec.excludeSuspects, views: 4 }),
  );
  assert.ok(turned.bytes > e.bytes);
  // A quarter turn of a frame that is not square is refused before anything is queued.
  assert.throws(
    () => estimateBuild([img(900, 900), img(300, 257)], { ...DEFAULT_LINE_CONFIG, trainRotations: '90' }, engine, manifest),
    (err: unknown) => isAppError(err) && err.code === 'unprocessable' && /261×224/.test(err.message),
  );
  assert.equal(estimateBuild([img(300, 257)], { ...DEFAULT_LINE_CONFIG, trainRotations: '180' }, engine, manifest).views, 2);
  // `auto` counts one view; its turns are weighed apart, and only square frames can take them.
  assert.equal(estimateBuild([img(900, 900)], { ...spec, trainRotations: 'auto' }, engine, manifest).views, 1);
  assert.deepEqual(turnedEstimate([img(900, 900), img(300, 257)], spec, engine, manifest), turned);
  assert.equal(turnedEstimate([img(900, 900), img(300, 257)], DEFAULT_LINE_CONFIG, engine, manifest), null);
  // The default whole frame: 300 × 257 → 261 × 224, 32 × 28 patches.
  assert.equal(estimateBuild([img(900, 900), img(300, 257)], DEFAULT_LINE_CONFIG, engine, manifest).patchesPerImage, 32 * 28);
  assert.ok(e.bytes > 2 * 784 * 1024 * 4, 'features alone are a lower bound');
  const whole = estimateBuild([img(128, 96), img(64, 64)], { ...DEFAULT_LINE_CONFIG, resize: null, crop: null }, engine, manifest);
  assert.equal(whole.patchesPerImage, 16 * 12, 'the largest frame counts');
  assert.doesNotThrow(() => assertWithinCapacity(e, e.bytes));
  assert.throws(
    () => assertWithinCapacity(e, e.bytes - 1),
    (err) => isAppError(err) && err.code === 'over_capacity' && err.status === 422 && err.details?.estimatedBytes === e.bytes,
  );
});
