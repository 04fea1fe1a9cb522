import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng } from '../../src/engine/kernels/index.js';
import type { MvtecImage, MvtecTestItem } from '../../src/eval/mvtec.js';
import { drawNoisySplit, noiseCount } from '../../src/eval/noise.js';

const train: MvtecImage[] = Array.from({ length: 20 }, (_, i) => ({ path: `/c/train/good/${i}.png`, name: `train/good/${i}.png` }));
const item = (type: string, i: number): MvtecTestItem => ({
  path: `/c/test/${type}/${i}.png`,
  name: `test/${type}/${i}.png`,
  type,
  anomalous: type !== 'good',
  maskPath: null,
});
// Canonical order: types sorted by name, good among them. 8 anomalies, 5 good.
const test_: MvtecTestItem[] = [
  ...[0, 1, 2, 3, 4].map((i) => item('crack', i)),
  ...[0, 1, 2, 3, 4].map((i) => item('good', i)),
  ...[0, 1, 2].map((i) => item('hole', i)),
];
const category = { train, test: test_ };

test('drawNoisySplit: the partial Fisher–Yates of spec §8, clean images first, injected in draw order', () => {
  const split = drawNoisySplit(category, { ratio: 0.2, mode: 'ratioOfClean', overlap: false, seed: 3 });
  // Expected draw computed from the spec's formula: j = i + floor(U·(n_A − i)).
  const a = test_.filter((t) => t.anomalous).map((t) => t.name);
  const rng = createRng(3);
  for (let i = 0; i < 4; i++) {
    const j = i + Math.floor(rng.next() * (a.length - i));
    [a[i], a[j]] = [a[j], a[i]];
  }
  assert.deepEqual(split.injected, a.slice(0, 4));
  assert.equal(split.train.length, 24);
  assert.deepEqual(split.train.slice(0, 20), train);
  assert.deepEqual(
    split.train.slice(20).map((t) => t.name),
    split.injected,
  );
  assert.deepEqual(split.train[20], { path: `/c/${split.injected[0]}`, name: split.injected[0] });
  // No-overlap: the injected images left the test set, the rest keeps its order.
  assert.equal(split.test.length, 13 - 4);
  assert.deepEqual(
    split.test.map((t) => t.name),
    test_.map((t) => t.name).filter((n) => !split.injected.includes(n)),
  );
  assert.ok(split.test.some((t) => t.anomalous));
});

test('drawNoisySplit: reproducible for a seed, different for another', () => {
  const opts = { ratio: 0.2, mode: 'ratioOfClean' as const, overlap: false };
  const a = drawNoisySplit(category, { ...opts, seed: 0 });
  const b = drawNoisySplit(category, { ...opts, seed: 0 });
  assert.deepEqual(a, b);
  const draws = new Set([0, 1, 2, 3].map((seed) => drawNoisySplit(category, { ...opts, seed }).injected.join()));
  assert.ok(draws.size > 1, 'different seeds draw different images');
});

test('drawNoisySplit: overlap keeps the test set; noise 0 changes nothing', () => {
  const split = drawNoisySplit(category, { ratio: 0.3, mode: 'ratioOfClean', overlap: true, seed: 1 });
  assert.equal(split.injected.length, 6);
  assert.deepEqual(split.test, test_);
  assert.equal(split.train.length, 26);
  const none = drawNoisySplit(category, { ratio: 0, mode: 'ratioOfClean', overlap: false, seed: 1 });
  assert.deepEqual(none, { train, test: test_, injected: [] });
});

test('noiseCount per mode', () => {
  // ratioOfClean: int(r·G), Python truncation of the same double (0.29·100 = 28.999… → 28).
  assert.equal(noiseCount(0.1, 209, 63, 'ratioOfClean', false), 20);
  assert.equal(noiseCount(0.29, 100, 63, 'ratioOfClean', false), 28);
  assert.throws(() => noiseCount(0.5, 20, 8, 'ratioOfClean', false), /Cannot inject 10 anomalous images .*only 8/);
  assert.equal(noiseCount(0.4, 20, 8, 'ratioOfClean', false), 8); // leaves no anomaly: allowed, as officially
  // cap: at least one anomaly stays in a no-overlap test set.
  assert.equal(noiseCount(0.5, 20, 8, 'cap', false), 7);
  assert.equal(noiseCount(0.5, 20, 8, 'cap', true), 8);
  assert.equal(noiseCount(0.1, 20, 8, 'cap', false), 2);
  assert.equal(noiseCount(0.5, 20, 0, 'cap', false), 0);
  // ratioOfFinal: n/(G + n) ≈ r.
  assert.equal(noiseCount(0.2, 20, 8, 'ratioOfFinal', false), 5);
  assert.equal(noiseCount(0.1, 209, 63, 'ratioOfFinal', false), 23);
  assert.throws(() => noiseCount(0.4, 20, 8, 'ratioOfFinal', false), /Cannot inject 13 .*only 8/);
  assert.throws(() => noiseCount(1, 20, 8, 'ratioOfFinal', true), /< 1/);
  assert.throws(() => noiseCount(-0.1, 20, 8, 'cap', true), /≥ 0/);
  const capped = drawNoisySplit(category, { ratio: 0.5, mode: 'cap', overlap: false, seed: 5 });
  assert.equal(capped.injected.length, 7);
  assert.equal(capped.test.filter((t) => t.anomalous).length, 1);
});
