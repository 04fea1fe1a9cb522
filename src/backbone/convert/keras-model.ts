/**
 * Reading a TensorFlow.js layers model (Keras topology in model.json + binary weight shards).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { appError, type AppError } from '../../common/errors.js';

/** Every converter failure is catalogued as `model_conversion` with the layer it concerns. */
export function conversionError(message: string): AppError {
  return appError('MODEL_CONVERSION', [message]);
}

export interface KerasLayer {
  name: string;
  className: string;
  config: Record<string, unknown>;
  /** Names of the layers feeding this one (first inbound node only: the model has no shared layers). */
  inputs: string[];
}

export interface KerasModel {
  layers: KerasLayer[];
  weights: Map<string, { shape: number[]; data: Float32Array }>;
}

interface RawLayer {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: Array<Array<[string, number, number, unknown]>>;
}

interface ModelJson {
  modelTopology: { model_config?: { config: { layers: RawLayer[] } }; config?: { layers: RawLayer[] } };
  weightsManifest: Array<{ paths: string[]; weights: Array<{ name: string; shape: number[]; dtype: string }> }>;
}

export async function readKerasModel(modelJsonPath: string): Promise<KerasModel> {
  const json = JSON.parse(await fs.readFile(modelJsonPath, 'utf8')) as ModelJson;
  const topo = json.modelTopology.model_config ?? json.modelTopology;
  if (!topo.config?.layers) throw conversionError(`${modelJsonPath}: no layers in modelTopology`);
  const layers = topo.config.layers.map((l) => ({
    name: l.name,
    className: l.class_name,
    config: l.config,
    inputs: (l.inbound_nodes[0] ?? []).map((n) => n[0]),
  }));

  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  const dir = path.dirname(modelJsonPath);
  for (const group of json.weightsManifest) {
    const shards = await Promise.all(group.paths.map((p) => fs.readFile(path.join(dir, p))));
    const all = Buffer.concat(shards);
    let offset = 0;
    for (const w of group.weights) {
      if (w.dtype !== 'float32') throw conversionError(`weight ${w.name}: dtype ${w.dtype} is not supported`);
      const count = w.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(count);
      // Copy out of the (possibly unaligned) shard buffer, reading little-endian explicitly.
      for (let i = 0; i < count; i++) data[i] = all.readFloatLE(offset + 4 * i);
      offset += 4 * count;
      weights.set(w.name, { shape: w.shape, data });
    }
    if (offset !== all.length) throw conversionError(`weights manifest covers ${offset} of ${all.length} shard bytes`);
  }
  return { layers, weights };
}

/** The weight tensor `<layer>/<name>` (Keras 2 names them `<layer>/kernel`, `<layer>/bias`, …). */
export function layerWeight(model: KerasModel, layer: string, name: string): { shape: number[]; data: Float32Array } {
  const w = model.weights.get(`${layer}/${name}`);
  if (!w) throw conversionError(`missing weight ${layer}/${name}`);
  return w;
}
