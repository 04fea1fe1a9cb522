/**
 * A tiny two-layer ONNX backbone generated in the test (8 and 16 channels, strides 4 and 8, raw
 * layer outputs in the manifest): the product works with any backbone, and service tests that
 * restart or build often use this one to stay fast.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BackboneManifest } from '../../src/backbone/types.js';
import { GraphBuilder } from '../../src/common/onnx-graph.js';
import { randomLayer } from './reference-aggregation.js';

export function tinyNetwork(): Uint8Array {
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

/** Writes tiny.onnx and its manifest.json into `dir` (which must exist); returns the manifest. */
export async function writeTinyBackbone(dir: string): Promise<BackboneManifest> {
  const bytes = tinyNetwork();
  await fs.writeFile(path.join(dir, 'tiny.onnx'), bytes);
  const manifest: BackboneManifest = {
    id: 'tiny-test',
    description: 'generated in a test',
    featureModel: 'tiny.onnx',
    featureModelSha256: createHash('sha256').update(bytes).digest('hex'),
    input: { name: 'pixels', layout: 'NCHW', colorOrder: 'RGB', range: [0, 255], inGraph: 'none' },
    output: { kind: 'layers', names: ['fine', 'coarse'], strides: [4, 8], channels: [8, 16], dim: 32 },
    preprocessing: { resize: 32, crop: 32 },
    license: { weights: 'test data', attribution: 'none' },
  };
  await fs.writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  return manifest;
}

/** A fresh temporary folder holding the tiny backbone; returns its path. */
export async function tinyBackboneDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sp-tiny-'));
  await writeTinyBackbone(dir);
  return dir;
}
