/** Thresholds chosen on labelled scores (policy "validation"): best F1, recall targets, strict decisions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bestF1Threshold, pointAt, recallThreshold } from '../../src/engine/calibrate/index.js';

const separable = { scores: [1, 2, 3, 10, 11, 12], defective: [false, false, false, true, true, true] };
const overlapping = { scores: [1, 2, 5, 4, 8, 9, 3], defective: [false, false, false, true, true, true, true] };

test('decisions are strict (anomalous = score > threshold) with the usual figures', () => {
  const p = pointAt(separable, 10);
  assert.deepEqual(p.confusion, { tp: 2, fp: 0, tn: 3, fn: 1 });
  assert.equal(p.precision, 1);
  assert.equal(p.recall, 2 / 3);
  assert.equal(p.f1, 0.8);
  assert.equal(p.accuracy, 5 / 6);
});

test('best F1: the midpoint of the gap between the classes; with overlap the best of every candidate', () => {
  const b = bestF1Threshold(separable);
  assert.equal(b.threshold, 6.5);
  assert.equal(b.f1, 1);
  const o = bestF1Threshold(overlapping);
  // Brute force over a fine grid of thresholds reaches no better F1.
  let best = 0;
  for (let t = 0; t <= 10; t += 0.01) best = Math.max(best, pointAt(overlapping, t).f1);
  assert.ok(Math.abs(o.f1 - best) < 1e-12, `${o.f1} vs ${best}`);
  assert.ok(!overlapping.scores.includes(o.threshold), 'never on an observed score');
});

test('recall target: the highest threshold that still flags the share asked for', () => {
  const all = recallThreshold(overlapping, 1);
  assert.equal(all.confusion.fn, 0);
  assert.equal(all.threshold, 2.5, 'just below the lowest defective score (3), above the good 2');
  const half = recallThreshold(overlapping, 0.5);
  assert.equal(half.confusion.tp, 2);
  assert.equal(half.threshold, 6.5);
  assert.equal(recallThreshold(separable, 0.99).threshold, 6.5);
});
