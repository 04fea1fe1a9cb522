/**
 * The converted network against the original TensorFlow.js model run by tfjs's pure-JS CPU
 * backend: layer2 (activation_21) and layer3 (activation_39) agree to 1e-4 relative.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import ort from 'onnxruntime-node';
import { sourceDir } from '../../src/backbone/build-default.js';
import { CAFFE_MEAN_RGB } from '../../src/backbone/convert/to-onnx.js';
import { readManifest } from '../../src/backbone/manifest.js';
import { DEFAULT_BACKBONE_DIR, MODELS_DIR } from '../helpers/paths.js';

interface ModelJson {
  modelTopology: { model_config: { config: { layers: Array<{ config: { batch_input_shape?: unknown[] } }> } } };
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
}

async function loadTfjsFeatureModel(): Promise<tfl.LayersModel> {
  const dir = path.join(sourceDir(MODELS_DIR), 'ResNet50');
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as ModelJson;
  // The exported topology fixes 224×224; a free spatial size lets the check run on a small input.
  json.modelTopology.model_config.config.layers[0].config.batch_input_shape = [null, null, null, 3];
  const bytes = Buffer.concat(json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(dir, p)))));
  const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const model = await tfl.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology as unknown as tf.io.ModelJSON['modelTopology'],
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData,
    }),
  );
  return tfl.model({
    inputs: model.inputs,
    outputs: ['activation_21', 'activation_39'].map((n) => model.getLayer(n).output as tfl.SymbolicTensor),
  });
}

/** max |a − b| / max |b| over a layer: NHWC reference vs NCHW ONNX output. */
function relativeError(refNhwc: Float32Array, onnxNchw: Float32Array, c: number, h: number, w: number): number {
  let maxDiff = 0;
  let maxRef = 0;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < c; k++) {
        const a = refNhwc[(y * w + x) * c + k];
        maxDiff = Math.max(maxDiff, Math.abs(a - onnxNchw[(k * h + y) * w + x]));
        maxRef = Math.max(maxRef, Math.abs(a));
      }
  return maxDiff / maxRef;
}

test('converted feature layers match TensorFlow.js to 1e-4 relative', async () => {
  await tf.setBackend('cpu');
  const H = 64,
    W = 48;
  const rgb = new Float32Array(3 * H * W);
  let s = 12345;
  for (let i = 0; i < rgb.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    rgb[i] = s >>> 24;
  }
  // Keras input: NHWC, BGR, caffe mean subtracted; ONNX input: NCHW RGB 0..255.
  const keras = new Float32Array(H * W * 3);
  for (let p = 0; p < H * W; p++) for (let c = 0; c < 3; c++) keras[p * 3 + c] = rgb[(2 - c) * H * W + p] - CAFFE_MEAN_RGB[2 - c];
  const model = await loadTfjsFeatureModel();
  const [ref2, ref3] = model.predict(tf.tensor4d(keras, [1, H, W, 3])) as tf.Tensor[];

  const manifest = await readManifest(DEFAULT_BACKBONE_DIR);
  const session = await ort.InferenceSession.create(path.join(DEFAULT_BACKBONE_DIR, manifest.featureModel));
  const out = await session.run({ image: new ort.Tensor('float32', rgb, [1, 3, H, W]) }, ['activation_21', 'activation_39']);
  await session.release();

  assert.deepEqual(out.activation_21.dims, [1, 512, H / 8, W / 8]);
  assert.deepEqual(out.activation_39.dims, [1, 1024, H / 16, W / 16]);
  const e2 = relativeError(ref2.dataSync() as Float32Array, out.activation_21.data as Float32Array, 512, H / 8, W / 8);
  const e3 = relativeError(ref3.dataSync() as Float32Array, out.activation_39.data as Float32Array, 1024, H / 16, W / 16);
  assert.ok(e2 < 1e-4, `layer2 relative error ${e2}`);
  assert.ok(e3 < 1e-4, `layer3 relative error ${e3}`);
});
