import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_ENGINE_CONFIG, resolveEngineConfig } from '../../src/engine/index.js';
import { isAppError } from '../../src/common/errors.js';

test('defaults are the spec defaults', () => {
  const c = resolveEngineConfig({});
  assert.deepEqual(c, DEFAULT_ENGINE_CONFIG);
  assert.equal(c.method, 'softpatch');
  assert.equal(c.discriminator, 'lof');
  assert.equal(c.lofK, 6);
  assert.equal(c.lofScoreCap, null);
  assert.equal(c.removalQuantile, 0.15);
  assert.equal(c.coresetRatio, 0.1);
  assert.equal(c.projectionDim, 128);
  assert.equal(c.startPoints, 10);
  assert.equal(c.discriminatorSpace, 'proj128');
  assert.equal(c.firstPickRespectsMask, false);
  assert.equal(c.softWeights, true);
  assert.equal(c.blurSigma, 4);
  assert.equal(c.seed, 0);
  assert.deepEqual(c.plus, {
    discriminators: ['lof', 'gaussian'],
    fusion: 'rank',
    rankScope: 'global',
    tauCls: 0.15,
    tauSeg: 0.5,
    weightSource: 'lof',
    coresetRatioCls: null,
    coresetRatioSeg: null,
    sharedProjection: true,
  });
});

test('partial configs are filled, nested plus included, without touching the defaults', () => {
  const c = resolveEngineConfig({ method: 'softpatch+', lofK: 5, plus: { tauSeg: 0.3, discriminators: ['nearest'] } });
  assert.equal(c.method, 'softpatch+');
  assert.equal(c.lofK, 5);
  assert.equal(c.plus.tauSeg, 0.3);
  assert.equal(c.plus.tauCls, 0.15);
  assert.deepEqual(c.plus.discriminators, ['nearest']);
  c.plus.discriminators.push('lof');
  assert.deepEqual(DEFAULT_ENGINE_CONFIG.plus.discriminators, ['lof', 'gaussian']);
  assert.ok(Object.isFrozen(DEFAULT_ENGINE_CONFIG));
});

function rejects(partial: unknown, pattern: RegExp): void {
  assert.throws(
    () => resolveEngineConfig(partial as never),
    (err: unknown) => isAppError(err) && err.code === 'engine_input' && pattern.test(err.message),
  );
}

test('out-of-range and mistyped values are refused with the field named', () => {
  rejects({ removalQuantile: 1 }, /removalQuantile must be a number in \[0, 1\)/);
  rejects({ coresetRatio: 0 }, /coresetRatio must be a number in \(0, 1\)/);
  rejects({ coresetRatio: 1 }, /coresetRatio/);
  rejects({ lofK: 2.5 }, /lofK must be an integer/);
  rejects({ lofK: 0 }, /lofK/);
  rejects({ method: 'padim' }, /method must be one of/);
  rejects({ discriminator: 'knn' }, /discriminator must be one of/);
  rejects({ lofScoreCap: 0 }, /lofScoreCap/);
  rejects({ seed: -1 }, /seed/);
  rejects({ softWeights: 'yes' }, /softWeights must be a boolean/);
  rejects({ projectionDim: Number.NaN }, /projectionDim/);
  rejects({ plus: { discriminators: [] } }, /plus.discriminators must be a non-empty array/);
  rejects({ plus: { discriminators: ['lof', 'lof'] } }, /must not repeat/);
  rejects({ plus: { discriminators: ['lof', 'svm'] } }, /plus.discriminators\[1\]/);
  rejects({ plus: { tauSeg: 1.5 } }, /plus.tauSeg/);
  rejects({ plus: { coresetRatioSeg: 0 } }, /plus.coresetRatioSeg/);
  rejects({ plus: { fusion: 'vote' } }, /plus.fusion/);
});

test('unknown fields are refused (typos would silently use a default)', () => {
  rejects({ lofk: 5 }, /unknown field lofk/);
  rejects({ plus: { tau: 0.2 } }, /unknown field plus.tau/);
});

test('every problem is reported at once', () => {
  rejects({ lofK: -1, coresetRatio: 2 }, /lofK.*; coresetRatio/);
});

test('null stays allowed where the spec says "none"', () => {
  const c = resolveEngineConfig({ lofScoreCap: 100, plus: { coresetRatioCls: 0.05, coresetRatioSeg: null } });
  assert.equal(c.lofScoreCap, 100);
  assert.equal(c.plus.coresetRatioCls, 0.05);
  assert.equal(c.plus.coresetRatioSeg, null);
});
