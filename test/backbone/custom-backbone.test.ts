/**
 * BACKBONE_DIR with another network: a tiny two-layer ONNX backbone generated here (8 and 16
 * channels, raw layer outputs in the manifest). The pipeline must aggregate any channel count
 * (spec §3.2) and agree with the reference op order.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { computeGeometry, loadBackbone } from '../../src/backbone/index.js';
import type { PreparedImage } from '../../src/backbone/types.js';
import { isAppError } from '../../src/common/errors.js';
import { referenceAggregation } from '../helpers/reference-aggregation.js';
import { writeTinyBackbone } from '../helpers/tiny-backbone.js';

function image(size: number): PreparedImage {
  const data = new Float32Array(3 * size * size).map((_, i) => (i * 37) % 256);
  return {
    data,
    width: size,
    height: size,
    geometry: computeGeometry(size, size, { resize: null, crop: null }),
  };
}

test('a user backbone with other channel counts works through its manifest', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tiny-backbone-'));
  try {
    await writeTinyBackbone(dir);
    const backbone = await loadBackbone(dir, { threads: 1 });
    const img = image(32);
    const [f] = await backbone.embed([img]);
    await backbone.close();
    assert.deepEqual(f.grid, { h: 8, w: 8 });
    assert.equal(f.dim, 32);

    const session = await ort.InferenceSession.create(path.join(dir, 'tiny.onnx'));
    const raw = await session.run({ pixels: new ort.Tensor('float32', img.data, [1, 3, 32, 32]) });
    await session.release();
    const ref = referenceAggregation(
      [
        { data: raw.fine.data as Float32Array, c: 8, h: 8, w: 8 },
        { data: raw.coarse.data as Float32Array, c: 16, h: 4, w: 4 },
      ],
      32,
      32,
    );
    let maxDiff = 0;
    let maxRef = 0;
    for (let i = 0; i < ref.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(ref[i] - f.data[i]));
      maxRef = Math.max(maxRef, Math.abs(ref[i]));
    }
    assert.ok(maxRef > 0 && maxDiff / maxRef < 1e-6, `aggregation differs by ${maxDiff} (max ${maxRef})`);

    // A model file that no longer matches its manifest is refused.
    await fs.appendFile(path.join(dir, 'tiny.onnx'), Buffer.from([0]));
    await assert.rejects(
      loadBackbone(dir, { threads: 1 }),
      (err: unknown) => isAppError(err) && err.code === 'backbone_invalid' && /sha256/.test(err.message),
    );
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
