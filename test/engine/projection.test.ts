import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Projector, drawProjection, projectReference, createRng } from '../../src/engine/kernels/index.js';

test('drawProjection: uniform on (−1/√D, 1/√D), seeded', () => {
  const r = drawProjection(createRng(3), 16, 64);
  assert.equal(r.length, 16 * 64);
  const bound = 1 / 8;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of r) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  assert.ok(lo >= -bound && hi <= bound);
  assert.ok(lo < -0.9 * bound && hi > 0.9 * bound, 'covers the range');
  assert.deepEqual(r, drawProjection(createRng(3), 16, 64));
  assert.notDeepEqual(r, drawProjection(createRng(4), 16, 64));
});

test('projectReference computes R·x per row', () => {
  // R = [[1, 2], [0, −1], [3, 0]], rows x = (1, 1), (2, −1).
  const r = Float32Array.from([1, 2, 0, -1, 3, 0]);
  const x = Float32Array.from([1, 1, 2, -1]);
  assert.deepEqual([...projectReference(x, 2, 2, r, 3)], [3, -1, 3, 0, 1, 6]);
});

test('Projector (onnxruntime) matches the reference for several matrices at a row offset', async () => {
  const rng = createRng(9);
  const inDim = 40;
  const rows = 7;
  const a = drawProjection(rng, 5, inDim);
  const b = drawProjection(rng, 3, inDim);
  const x = Float32Array.from({ length: rows * inDim }, () => rng.next() * 2 - 0.5);
  const outA = new Float32Array((rows + 2) * 5);
  const outB = new Float32Array((rows + 2) * 3);
  await new Projector([a, b], inDim).project(x, rows, [outA, outB], 2);
  const refA = projectReference(x, rows, inDim, a, 5);
  const refB = projectReference(x, rows, inDim, b, 3);
  assert.deepEqual([...outA.subarray(0, 10)], new Array(10).fill(0));
  for (let i = 0; i < refA.length; i++) assert.ok(Math.abs(outA[10 + i] - refA[i]) < 1e-5, `A[${i}]`);
  for (let i = 0; i < refB.length; i++) assert.ok(Math.abs(outB[6 + i] - refB[i]) < 1e-5, `B[${i}]`);
});

test('Projector gives the same bits on one thread and on two', async () => {
  const rng = createRng(9);
  const rows = 300;
  const inDim = 256;
  const x = Float32Array.from({ length: rows * inDim }, () => rng.next() - 0.5);
  const matrices = [drawProjection(rng, 64, inDim), drawProjection(rng, 32, inDim)];
  const run = async (threads: number): Promise<Float32Array[]> => {
    const outs = [new Float32Array(rows * 64), new Float32Array(rows * 32)];
    await new Projector(matrices, inDim, threads).project(x, rows, outs, 0);
    return outs;
  };
  assert.deepEqual(await run(2), await run(1));
});
