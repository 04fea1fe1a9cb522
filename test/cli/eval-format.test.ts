/**
 * The eval's tables (`src/cli/eval.ts`): a run names the views it learnt, and the runs of
 * `trainRotations: "auto"` share one summary row over categories whatever each one learnt, so
 * `--category bottle,screw` gives one mean for the default.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSummary, formatTable } from '../../src/cli/eval.js';
import type { TurnsChoice } from '../../src/backbone/orientation.js';
import type { EvalRun } from '../../src/eval/run.js';

function run(category: string, turns: TurnsChoice, imageAuroc: number): EvalRun {
  return {
    category,
    method: 'softpatch',
    discriminator: 'lof',
    discriminatorWindow: 0,
    turns,
    preprocess: { resize: 224, crop: null },
    thresholdRule: 'fence',
    suspectEvidence: 'calibrationScore',
    suspectFence: 'gumbel',
    excludeSuspects: true,
    suspectRebuild: 'repair',
    noise: 0.1,
    overlap: false,
    seed: 0,
    imageAuroc,
    pixelAuroc: 0.99,
    aupro: 0.95,
    f1Max: 1,
    f1AtThreshold: 0.9,
    accuracyAtThreshold: 0.9,
    threshold: 170,
    injectedCount: 20,
    injectedHits: 20,
    injectedFlagged: 1,
    cleanFlagged: 0,
    cleanCount: 200,
    buildMs: 1000,
    inferMsPerImage: 100,
  } as EvalRun;
}

test('auto runs: each row names what it learnt, the summary averages them in one row', () => {
  const spread = { photos: 64, withAxis: 0, resultant: null };
  const runs = [
    run('screw', { learned: '90', reason: 'any-angle', spread: { photos: 64, withAxis: 64, resultant: 0.15 } }, 0.95),
    run('bottle', { learned: 'none', reason: 'no-axis', spread }, 1),
    run('screw', { learned: '90', reason: 'set', spread: null }, 0.95),
  ];
  const table = formatTable(runs).split('\n');
  assert.match(table[2], /^\| screw \| softpatch \(turns auto: 90, whole 224/);
  assert.match(table[3], /^\| bottle \| softpatch \(turns auto: none, whole 224/);
  assert.match(table[4], /^\| screw \| softpatch \(turns 90, whole 224/);
  const summary = formatSummary(runs).split('\n').slice(2);
  assert.equal(summary.length, 2, summary.join('\n'));
  assert.match(summary[0], /^\| softpatch \(turns auto, whole 224.* \| 2 \| 0\.9750 ± 0\.0354 \|/);
  assert.match(summary[1], /^\| softpatch \(turns 90, whole 224.* \| 1 \| 0\.9500 \|/);
});
