/**
 * The exact-distance kernel on bank rows in a shared WebAssembly memory (kernels/exact.ts): the
 * same bits as `exactDist2Below`, under limits that stop it early too, from another thread, and
 * query slots that are taken and given back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { createRng, exactKernel, sharedRows } from '../../src/engine/kernels/index.js';
import { exactDist2Below } from '../../src/engine/search/index.js';

/** Rows and queries of mixed scales, with a dimension that is not a multiple of four. */
function data(
  rows: number,
  dim: number,
  seed: number,
): { bank: { features: Float32Array; memory: WebAssembly.Memory }; queries: Float32Array } {
  const rng = createRng(seed);
  const { features, memory } = sharedRows(rows, dim);
  assert.ok(memory, 'small rows fit in a WebAssembly memory');
  const bank = { features, memory };
  for (let i = 0; i < rows * dim; i++) bank.features[i] = (rng.next() - 0.5) * (1 + (i % 7)) * 10;
  const queries = Float32Array.from({ length: 8 * dim }, () => (rng.next() - 0.5) * 20);
  return { bank, queries };
}

test('exact kernel: the bits of exactDist2Below for every row and limit', () => {
  for (const dim of [1024, 131, 3]) {
    const rows = 50;
    const { bank, queries } = data(rows, dim, dim);
    const kernel = exactKernel(bank.memory, bank.features, dim)!;
    assert.ok(kernel);
    let early = 0;
    for (let q = 0; q < 8; q++) {
      kernel.setQuery(queries, q * dim);
      for (let r = 0; r < rows; r++) {
        const full = exactDist2Below(queries, q * dim, bank.features, r * dim, dim, Infinity);
        for (const limit of [Infinity, full, full * 0.5, full * 0.01, 0]) {
          const want = exactDist2Below(queries, q * dim, bank.features, r * dim, dim, limit);
          assert.ok(Object.is(kernel.dist2Below(r, limit), want), `dim ${dim} query ${q} row ${r} limit ${limit}`);
          if (want < full) early++;
        }
      }
    }
    // The limits below the distance stopped it early (where there were blocks to stop between).
    if (dim > 64) assert.ok(early > 0);
    kernel.release();
  }
});

test('exact kernel: query slots are taken, given back, and refused when all are taken', () => {
  const { bank } = data(4, 16, 1);
  const kernels = [];
  for (;;) {
    const k = exactKernel(bank.memory, bank.features, 16);
    if (k === null) break;
    kernels.push(k);
  }
  assert.equal(kernels.length, 64);
  kernels[10].release();
  kernels[10].release();
  const again = exactKernel(bank.memory, bank.features, 16);
  assert.ok(again);
  assert.equal(exactKernel(bank.memory, bank.features, 16), null);
  // A view that is not the memory's rows (too far in) is refused.
  assert.equal(exactKernel(bank.memory, new Float32Array(new SharedArrayBuffer(4 * 16 * 4)), 16), null);
});

test('exact kernel: another thread, sent the memory and the rows, computes the same bits', async () => {
  const dim = 256;
  const { bank, queries } = data(20, dim, 5);
  const script = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.module).then(({ exactKernel }) => {
      const { memory, features, queries, dim } = workerData;
      const k = exactKernel(memory, features, dim);
      k.setQuery(queries, 0);
      parentPort.postMessage(Array.from({ length: features.length / dim }, (_, r) => k.dist2Below(r, Infinity)));
    });`;
  const module = new URL('../../src/engine/kernels/index.js', import.meta.url).href;
  const worker = new Worker(script, { eval: true, workerData: { module, memory: bank.memory, features: bank.features, queries, dim } });
  const got = await new Promise<number[]>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  const want = Array.from({ length: 20 }, (_, r) => exactDist2Below(queries, 0, bank.features, r * dim, dim, Infinity));
  assert.deepEqual(got, want);
});
