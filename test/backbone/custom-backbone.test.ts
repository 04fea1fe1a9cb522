/**
 * BACKBONE_DIR with another network: a tiny two-layer ONNX backbone generated here (8 and 16
 * channels, raw layer outputs in the manifest). The pipeline must aggregate any channel count
 * (spec §3.2) and agree with the reference op order.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { loadBackbone } from '../../src/backbone/index.js';
import type { BackboneManifest, PreparedImage } from '../../src/backbone/types.js';
import { isAppError } from '../../src/common/errors.js';
import { GraphBuilder } from '../../src/common/onnx-graph.js';
import { randomLayer, referenceAggregation } from '../helpers/reference-aggregation.js';

function tinyNetwork(): Uint8Array {
  const g = new GraphBuilder('tiny');
  g.input('pixels', ['N', 3, 'H', 'W']);
  const w1 = randomLayer(8, 3, 9, 11).data; // 8 × 3 × 3 × 3
  const w2 = randomLayer(16, 8, 9, 12).data; // 16 × 8 × 3 × 3
  const a = g.node('Conv', ['pixels', g.constant('w1', [8, 3, 3, 3], w1)], { strides: [4, 4], pads: [1, 1, 1, 1], kernel_shape: [3, 3] });
  g.node('Relu', [a], {}, ['fine']);
  const b = g.node('Conv', ['fine', g.constant('w2', [16, 8, 3, 3], w2)], { strides: [2, 2], pads: [1, 1, 1, 1], kernel_shape: [3, 3] });
  g.node('Relu', [b], {}, ['coarse']);
  g.output('fine', ['N', 8, 'h', 'w']);
  g.output('coarse', ['N', 16, 'h2', 'w2']);
  return g.encode();
}

function image(size: number): PreparedImage {
  const data = new Float32Array(3 * size * size).map((_, i) => (i * 37) % 256);
  return { data, width: size, height: size, geometry: { originalWidth: size, originalHeight: size, resizedWidth: size, resizedHeight: size, cropLeft: 0, cropTop: 0, cropWidth: size, cropHeight: size } };
}

test('a user backbone with other channel counts works through its manifest', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tiny-backbone-'));
  try {
    const bytes = tinyNetwork();
    await fs.writeFile(path.join(dir, 'tiny.onnx'), bytes);
    const manifest: BackboneManifest = {
      id: 'tiny-test', description: 'generated in a test', featureModel: 'tiny.onnx',
      featureModelSha256: createHash('sha256').update(bytes).digest('hex'),
      input: { name: 'pixels', layout: 'NCHW', colorOrder: 'RGB', range: [0, 255], inGraph: 'none' },
      output: { kind: 'layers', names: ['fine', 'coarse'], strides: [4, 8], channels: [8, 16], dim: 32 },
      preprocessing: { resize: 32, crop: 32 },
      license: { weights: 'test data', attribution: 'none' },
    };
    await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    const backbone = await loadBackbone(dir, { threads: 1 });
    const img = image(32);
    const [f] = await backbone.embed([img]);
    await backbone.close();
    assert.deepEqual(f.grid, { h: 8, w: 8 });
    assert.equal(f.dim, 32);

    const session = await ort.InferenceSession.create(path.join(dir, 'tiny.onnx'));
    const raw = await session.run({ pixels: new ort.Tensor('float32', img.data, [1, 3, 32, 32]) });
    await session.release();
    const ref = referenceAggregation([
      { data: raw.fine.data as Float32Array, c: 8, h: 8, w: 8 },
      { data: raw.coarse.data as Float32Array, c: 16, h: 4, w: 4 },
    ], 32, 32);
    let maxDiff = 0;
    let maxRef = 0;
    for (let i = 0; i < ref.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(ref[i] - f.data[i]));
      maxRef = Math.max(maxRef, Math.abs(ref[i]));
    }
    assert.ok(maxRef > 0 && maxDiff / maxRef < 1e-6, `aggregation differs by ${maxDiff} (max ${maxRef})`);

    // A model file that no longer matches its manifest is refused.
    await fs.appendFile(path.join(dir, 'tiny.onnx'), Buffer.from([0]));
    await assert.rejects(loadBackbone(dir, { threads: 1 }), (err: unknown) => isAppError(err) && err.code === 'backbone_invalid' && /sha256/.test(err.message));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
