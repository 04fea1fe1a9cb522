/**
 * A small, time-bounded evaluation on a subset of the shared bottle data with the real backbone:
 * generous floors, not exact values. Skipped cleanly where ../shared/data is absent.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { loadBackbone } from '../../src/backbone/index.js';
import { runEvaluation } from '../../src/eval/run.js';
import { SPEC_DECISION_RULES } from '../../src/engine/index.js';
import { DEFAULT_BACKBONE_DIR, SHARED_MVTEC, hasSharedData } from '../helpers/paths.js';

test(
  'softpatch on a bottle subset at noise 0.1 separates good from defective',
  { skip: !hasSharedData && 'no ../shared/data/mvtec_ad' },
  async () => {
    const backbone = await loadBackbone(DEFAULT_BACKBONE_DIR, { threads: 2 });
    try {
      const result = await runEvaluation(backbone, {
        root: path.join(SHARED_MVTEC, 'bottle'),
        noises: [0.1],
        overlap: false,
        noiseMode: 'cap',
        methods: ['softpatch'],
        discriminator: 'lof',
        seeds: [0],
        engine: { coresetRatio: 0.1 },
        resize: 256,
        crop: 224,
        trainRotations: 'auto',
        align: 'none',
        gtRule: 'official',
        rules: [SPEC_DECISION_RULES],
        limitTrain: 40,
        limitTestPerType: 6,
      });
      assert.equal(result.runs.length, 1);
      const r = result.runs[0];
      assert.equal(r.trainImages, 40 + 4); // floor(0.1 · 40) injected
      // Bottles seen from above are round: `auto` learns no turns.
      assert.deepEqual([r.turns.learned, r.turns.reason, r.turns.spread?.photos], ['none', 'no-axis', 40]);
      assert.equal(r.movedImages.length, 4);
      assert.equal(r.testImages, 6 * 4 - 4); // no-overlap: the injected images left the test set
      assert.ok(r.imageAuroc >= 0.9, `image AUROC ${r.imageAuroc}`);
      assert.ok(r.pixelAuroc !== null && r.pixelAuroc >= 0.9, `pixel AUROC ${r.pixelAuroc}`);
      assert.ok(r.aupro !== null && r.aupro > 0.5, `AUPRO ${r.aupro}`);
      assert.ok(r.threshold > 0 && Number.isFinite(r.threshold));
      assert.ok(r.accuracyAtThreshold >= 0.6, `accuracy at the auto threshold ${r.accuracyAtThreshold}`);
    } finally {
      await backbone.close();
    }
  },
);
