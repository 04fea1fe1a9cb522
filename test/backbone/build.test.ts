import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { test } from 'node:test';
import { buildDefaultBackbone, sourceDir } from '../../src/backbone/build-default.js';
import { readKerasModel } from '../../src/backbone/convert/keras-model.js';
import { convertKerasToOnnx } from '../../src/backbone/convert/to-onnx.js';
import { readManifest } from '../../src/backbone/manifest.js';
import { isAppError } from '../../src/common/errors.js';
import { DEFAULT_BACKBONE_DIR, MODELS_DIR } from '../helpers/paths.js';

test('conversion is deterministic and matches the sha256 recorded in the manifest', async () => {
  const model = await readKerasModel(path.join(sourceDir(MODELS_DIR), 'ResNet50', 'model.json'));
  const a = convertKerasToOnnx(model, { variant: 'features', featureLayers: ['activation_21', 'activation_39'] });
  const b = convertKerasToOnnx(model, { variant: 'features', featureLayers: ['activation_21', 'activation_39'] });
  assert.ok(Buffer.from(a).equals(Buffer.from(b)), 'two conversions differ');
  const manifest = await readManifest(DEFAULT_BACKBONE_DIR);
  assert.equal(createHash('sha256').update(a).digest('hex'), manifest.featureModelSha256);
  assert.equal(manifest.output.kind, 'patchFeatures');
  assert.match(manifest.license.weights, /MIT/);
});

test('the build is idempotent: a second run skips', async () => {
  const r = await buildDefaultBackbone({ modelsDir: MODELS_DIR });
  assert.equal(r.skipped, true);
});

test('unsupported Keras layers are refused with a catalogued error naming the layer', () => {
  const model = {
    layers: [
      { name: 'input_1', className: 'InputLayer', config: {}, inputs: [] },
      { name: 'drop', className: 'Dropout', config: { rate: 0.5 }, inputs: ['input_1'] },
    ],
    weights: new Map(),
  };
  assert.throws(
    () => convertKerasToOnnx(model, { variant: 'classifier' }),
    (err: unknown) => isAppError(err) && err.code === 'model_conversion' && /drop: layer type Dropout/.test(err.message),
  );
});
