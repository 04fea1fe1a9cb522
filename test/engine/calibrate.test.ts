/**
 * Calibration edge cases and the rule that ties regions and colours to the image decision
 * (issue 16, item 7).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrate } from '../../src/engine/calibrate/index.js';
import { anomalyMap, decisionMap, scorePatches } from '../../src/engine/score/index.js';
import type { Bank, BankSet } from '../../src/engine/index.js';
import { anomalyRegions } from '../../src/render/heatmap.js';

function bank(rows: number[][], weights: number[], sourceImage: number[]): Bank {
  return { rows: rows.length, dim: rows[0].length, features: Float32Array.from(rows.flat()), weights: Float32Array.from(weights), sourceImage: Int32Array.from(sourceImage) };
}

const grid = { h: 2, w: 2 };
/** Four patches of dim 1 per image. */
const img = (...v: number[]): Float32Array => Float32Array.from(v);

test('calibration of a tiny bank whose rows all come from one image', async () => {
  // Every row belongs to image 0: leaving image 0 out of the bank would leave nothing to search.
  const cls = bank([[0], [1]], [1, 1], [0, 0]);
  const bankSet: BankSet = { method: 'softpatch', grid, cls, seg: null };
  const features = [img(0, 1, 0, 1), img(0.5, 1, 0, 1), img(0, 1.5, 0, 1), img(0, 1, 0.2, 1)];
  const cal = await calibrate({ bankSet, features, suspects: new Set(), sensitivity: 3.5, mapSize: { h: 8, w: 8 }, blurSigma: 1 });
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
  const cls = bank([[0], [10]], [1, 1], [0, 1]);
  const seg = bank([[0], [3]], [0.2, 0.2], [0, 1]);
  const bankSet: BankSet = { method: 'softpatch+', grid, cls, seg };
  const ps = await scorePatches(bankSet, img(0, 0, 0, 2));
  assert.equal(ps.imageScore, 4);
  const raw = anomalyMap(ps.mapScores, grid, 16, 16, 2);
  const threshold = 3.9; // anomalous: 4 > 3.9
  const geometry = { originalWidth: 16, originalHeight: 16, resizedWidth: 16, resizedHeight: 16, cropLeft: 0, cropTop: 0, cropWidth: 16, cropHeight: 16 };
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
