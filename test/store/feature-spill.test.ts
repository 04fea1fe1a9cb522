import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FeatureSpill } from '../../src/store/feature-spill.js';
import { Layout } from '../../src/store/paths.js';

test('feature spill: images written in order read back bit for bit; the file goes with remove', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sp-spill-'));
  try {
    const spill = await FeatureSpill.create(new Layout(dataDir), 'line-a', 'b_01JEXAMP000000000000000000');
    const images = Array.from({ length: 5 }, (_, b) => Float32Array.from({ length: 3000 }, (_, i) => Math.sin(b * 7919 + i) * 1e3));
    // A view into a larger buffer is written as its own bytes only.
    const big = new Float32Array(9000);
    big.set(images[2], 3000);
    for (const [b, img] of images.entries()) await spill.append(b === 2 ? big.subarray(3000, 6000) : img);
    assert.equal(spill.count, 5);
    assert.equal((await stat(spill.path)).size, 5 * 3000 * 4);
    for (const b of [4, 0, 2, 3, 1]) assert.deepEqual(await spill.read(b), images[b]);
    await assert.rejects(spill.append(new Float32Array(10)), /bytes after images of/);
    await assert.rejects(spill.read(5), /spilled image 5 of 5/);
    await spill.remove();
    assert.deepEqual(await readdir(path.dirname(spill.path)), []);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
