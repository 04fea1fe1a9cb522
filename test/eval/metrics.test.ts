import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accuracyAt, aupro, auroc, confusionAt, f1At, f1Max } from '../../src/eval/metrics.js';
import { auproReference, aurocTrapezoid, f1MaxReference, trapezoid } from '../../src/eval/metrics-reference.js';
import { createRng } from '../../src/engine/kernels/index.js';

const close = (a: number, b: number, eps = 1e-12): void => assert.ok(Math.abs(a - b) <= eps, `${a} ≠ ${b}`);

test('auroc: scikit-learn documentation case', () => {
  // roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.75
  close(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
  close(aurocTrapezoid([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
});

test('auroc: ties get average ranks (= ties counted ½ in pairs)', () => {
  const scores = [0.5, 0.5, 0.2, 0.9, 0.2, 0.1];
  const labels = [false, true, false, true, true, false];
  // Ranks: 0.1→1, 0.2,0.2→2.5, 0.5,0.5→4.5, 0.9→6. R_pos = 4.5 + 6 + 2.5 = 13; (13 − 6)/9 = 7/9.
  close(auroc(scores, labels), 7 / 9);
  close(aurocTrapezoid(scores, labels), 7 / 9);
  // All scores equal: chance.
  close(auroc([3, 3, 3, 3], [1, 0, 1, 0]), 0.5);
});

test('auroc: needs both classes and matching lengths', () => {
  assert.throws(() => auroc([1, 2], [1, 1]), /both classes/);
  assert.throws(() => auroc([1, 2, 3], [1, 0]), /3 scores but 2 labels/);
  assert.throws(() => auroc([1, Number.NaN], [1, 0]), /NaN/);
});

test('auroc and f1Max agree with the reference on random data with ties', () => {
  const rng = createRng(7);
  for (let round = 0; round < 20; round++) {
    const n = 20 + rng.int(200);
    const scores = new Float32Array(n);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = rng.next() < 0.3 ? 1 : 0;
      // Few distinct values, shifted up for positives: many ties across classes.
      scores[i] = Math.floor((rng.next() + 0.5 * labels[i]) * 8) / 8;
    }
    labels[0] = 1;
    labels[1] = 0;
    close(auroc(scores, labels), aurocTrapezoid(scores, labels), 1e-12);
    const fast = f1Max(scores, labels);
    const ref = f1MaxReference(scores, labels);
    close(fast.f1, ref.f1);
    assert.equal(fast.threshold, ref.threshold);
    close(fast.f1, f1At(scores, labels, fast.threshold));
  }
});

test('f1Max, f1At, accuracyAt on a hand case', () => {
  const scores = [0.1, 0.4, 0.35, 0.8, 0.7];
  const labels = [0, 0, 1, 1, 0];
  // t = 0.8: TP 1, FP 0, FN 1 → F1 2/3; t = 0.7: TP 1 FP 1 → 1/2; t = 0.4: TP1 FP2 → 0.4;
  // t = 0.35: TP 2, FP 2 → P ½, R 1 → F1 2/3 (tie: the higher threshold 0.8 is kept).
  const best = f1Max(scores, labels);
  close(best.f1, 2 / 3);
  assert.equal(best.threshold, 0.8);
  close(best.precision, 1);
  close(best.recall, 0.5);
  close(f1At(scores, labels, 0.35), 2 / 3);
  close(f1At(scores, labels, 0.7), 0.5);
  assert.equal(f1At(scores, labels, 0.9), 0);
  assert.deepEqual(confusionAt(scores, labels, 0.35), { tp: 2, fp: 2, tn: 1, fn: 0 });
  close(accuracyAt(scores, labels, 0.35), 3 / 5);
  close(accuracyAt(scores, labels, 0.8), 4 / 5);
});

test('aupro: a perfect map gives 1, an inverted one 0', () => {
  const mask = Uint8Array.from([0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
  const perfect = Float32Array.from(mask);
  close(aupro([perfect], [mask], 4, 4), 1);
  const inverted = Float32Array.from(mask, (v) => 1 - v);
  close(aupro([inverted], [mask], 4, 4), 0);
});

test('aupro: hand case with a tie group straddling FPR 0.3', () => {
  // Two 4 × 1 images. A: mask 1 1 0 0 (one region of 2 px), B: mask 0 0 0 1 (one region of 1 px).
  // 2 regions, 5 negative pixels. A pixel of A's region adds 1/(2·2) = 0.25 to PRO, B's adds 0.5.
  const maps = [Float32Array.from([0.9, 0.5, 0.5, 0.1]), Float32Array.from([0.2, 0.4, 0.6, 0.7])];
  const masks = [Uint8Array.from([1, 1, 0, 0]), Uint8Array.from([0, 0, 0, 1])];
  // Descending: 0.9 P(+.25) → (0, .25); 0.7 P(+.5) → (0, .75); 0.6 N → (.2, .75);
  // {0.5 N, 0.5 P(+.25)} one point → (.4, 1); then (.6, 1), (.8, 1), (1, 1).
  // Area to 0.3: 0.2·0.75 = 0.15; PRO at 0.3 = 0.75 + 0.25·(0.1/0.2) = 0.875,
  // partial trapezoid 0.1·(0.75 + 0.875)/2 = 0.08125. AUPRO = 0.23125 / 0.3.
  close(aupro(maps, masks, 4, 1), 0.23125 / 0.3);
  close(auproReference(maps, masks, 4, 1), 0.23125 / 0.3);
  // Up to FPR 0.4 (a curve point, no interpolation): 0.15 + 0.2·(0.75 + 1)/2 = 0.325.
  close(aupro(maps, masks, 4, 1, 0.4), 0.325 / 0.4);
});

test('aupro: diagonal neighbours form one region (8-connectivity)', () => {
  // 3 × 3 mask: A(0,0) and B(1,0) side by side, C(2,1) touching B only at a corner.
  // 8-connected: one region of 3 px. (4-connected would be {A,B} and {C}.)
  const mask = Uint8Array.from([1, 1, 0, 0, 0, 1, 0, 0, 0]);
  const map = Float32Array.from([0.1, 0.1, 0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1]);
  // Only C scores high. Curve: (0,0), (0, 1/3), (1, 1), (1, 1). PRO at FPR 0.3 = 1/3 + 0.3·2/3 = 0.5333…;
  // area = 0.3·(1/3 + 0.5333…)/2 → AUPRO = (1/3 + 0.5333…)/2 = 0.4333…
  // (with two 4-connected regions PRO would start at 0.5 and AUPRO be 0.575).
  close(aupro([map], [mask], 3, 3), (1 / 3 + (1 / 3 + 0.2)) / 2);
});

test('aupro agrees with the reference on random maps with ties', () => {
  const rng = createRng(11);
  for (let round = 0; round < 15; round++) {
    const w = 5 + rng.int(6);
    const h = 4 + rng.int(5);
    const images = 1 + rng.int(3);
    const maps: Float32Array[] = [];
    const masks: Uint8Array[] = [];
    for (let k = 0; k < images; k++) {
      const mask = new Uint8Array(w * h);
      const map = new Float32Array(w * h);
      for (let i = 0; i < w * h; i++) {
        mask[i] = rng.next() < 0.25 ? 1 : 0;
        map[i] = Math.round((rng.next() + 0.6 * mask[i]) * 10) / 10;
      }
      maps.push(map);
      masks.push(mask);
    }
    masks[0][0] = 1;
    masks[0][1] = 0;
    for (const maxFpr of [0.3, 0.05, 1]) {
      close(aupro(maps, masks, w, h, maxFpr), auproReference(maps, masks, w, h, maxFpr), 1e-9);
    }
  }
});

test('trapezoid reference: interpolates only when xMax is not a point', () => {
  close(trapezoid([0, 0.5, 1], [0, 1, 1], 0.25), 0.5 * 0.25 * 0.5);
  close(trapezoid([0, 0.5, 1], [0, 1, 1], 0.5), 0.25);
});

test('aupro: input checks', () => {
  const mask = new Uint8Array(4);
  assert.throws(() => aupro([new Float32Array(4)], [mask], 2, 2), /regions/);
  assert.throws(() => aupro([new Float32Array(3)], [mask], 2, 2), /expected 2×2/);
  assert.throws(() => aupro([new Float32Array(4)], [Uint8Array.from([1, 0, 0, 0])], 2, 2, 0), /maxFpr/);
});
