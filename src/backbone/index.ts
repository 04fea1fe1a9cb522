/**
 * The feature extractor: an ONNX backbone described by a manifest, run by onnxruntime-node.
 * `embed` turns prepared images into patch features (P × D rows, p = y·w + x), batching images of
 * the same size into one run.
 */
import path from 'node:path';
import ort from 'onnxruntime-node';
import { appError } from '../common/errors.js';
import { aggregateLayers, type LayerMap } from './aggregate.js';
import { readManifest, verifyModelFiles } from './manifest.js';
import type { BackboneManifest, PatchFeatures, PreparedImage } from './types.js';

export type { BackboneManifest, PatchFeatures, PreparedImage, ImageGeometry, PartPose, PreprocessOptions } from './types.js';
export { prepareImage, probeImage, computeGeometry } from './preprocess.js';
export { TRAIN_ROTATIONS, turnPrepared, viewTurns, type LearnedRotations, type TrainRotations } from './rotate.js';
export { ALIGNMENTS, alignedToFrame, frameToAligned, partAxis, partPose, type Alignment, type PartAxis } from './align.js';
export {
  chooseTurns,
  decideTurns,
  orientationSpread,
  sampleIndices,
  TURNS_REASONS,
  type OrientationSpread,
  type TurnsChoice,
  type TurnsReason,
} from './orientation.js';

export interface BackboneOptions {
  threads: number;
  /** Check the model files' sha256 before loading (default true). */
  verify?: boolean;
  /** Largest batch sent to onnxruntime at once (default 8). */
  maxBatch?: number;
  /**
   * Keep onnxruntime's CPU arena (default false). A long-lived session that embeds photo after
   * photo (an inspection worker) then holds its activations' peak once; without it they go back to
   * malloc after every run, whose per-thread heaps kept about 50 MB more per worker under a load
   * of concurrent inspections. A build's session, whose process ends with it, gives them back.
   */
  arena?: boolean;
}

export interface Backbone {
  readonly manifest: BackboneManifest;
  readonly dir: string;
  readonly id: string;
  /** sha256 of the feature model: banks record it so a swapped backbone is detected. */
  readonly sha256: string;
  readonly dim: number;
  embed(images: PreparedImage[]): Promise<PatchFeatures[]>;
  close(): Promise<void>;
}

export function sessionOptions(threads: number, arena = false): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: arena,
    // Inspection workers and a build share the cores: an idle pool must sleep, not spin against them.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

/** Packs same-sized images into one NCHW tensor. */
function batchTensor(images: PreparedImage[]): ort.Tensor {
  const { width, height } = images[0];
  const plane = 3 * width * height;
  const data = new Float32Array(images.length * plane);
  images.forEach((img, i) => data.set(img.data, i * plane));
  return new ort.Tensor('float32', data, [images.length, 3, height, width]);
}

class OnnxBackbone implements Backbone {
  readonly id: string;
  readonly sha256: string;
  readonly dim: number;

  constructor(
    readonly manifest: BackboneManifest,
    readonly dir: string,
    private readonly session: ort.InferenceSession,
    private readonly maxBatch: number,
  ) {
    this.id = manifest.id;
    this.sha256 = manifest.featureModelSha256;
    this.dim = manifest.output.dim;
  }

  async embed(images: PreparedImage[]): Promise<PatchFeatures[]> {
    const out: PatchFeatures[] = new Array(images.length);
    const groups = new Map<string, number[]>();
    images.forEach((img, i) => {
      const key = `${img.width}x${img.height}`;
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    for (const indices of groups.values()) {
      for (let s = 0; s < indices.length; s += this.maxBatch) {
        const chunk = indices.slice(s, s + this.maxBatch);
        const feats = await this.run(chunk.map((i) => images[i]));
        chunk.forEach((i, k) => {
          out[i] = feats[k];
        });
      }
    }
    return out;
  }

  private async run(batch: PreparedImage[]): Promise<PatchFeatures[]> {
    const input = batchTensor(batch);
    const o = this.manifest.output;
    const feeds = { [this.manifest.input.name]: input };
    if (o.kind === 'patchFeatures') {
      const result = await this.session.run(feeds, [o.name]);
      const t = result[o.name];
      const [n, h, w, d] = t.dims as number[];
      const all = t.data as Float32Array;
      const size = h * w * d;
      t.dispose?.();
      return Array.from({ length: n }, (_, i) => ({ data: all.slice(i * size, (i + 1) * size), grid: { h, w }, dim: d }));
    }
    const result = await this.session.run(feeds, o.names);
    const n = batch.length;
    return Array.from({ length: n }, (_, i) => {
      const layers: LayerMap[] = o.names.map((name) => {
        const t = result[name];
        const [, c, h, w] = t.dims as number[];
        const size = c * h * w;
        return { data: (t.data as Float32Array).subarray(i * size, (i + 1) * size), channels: c, h, w };
      });
      return { data: aggregateLayers(layers, o.dim, o.dim), grid: { h: layers[0].h, w: layers[0].w }, dim: o.dim };
    });
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

export async function loadBackbone(dir: string, opts: BackboneOptions): Promise<Backbone> {
  const manifest = await readManifest(dir);
  if (opts.verify !== false) {
    const problems = await verifyModelFiles(dir, manifest);
    if (problems.length) throw appError('BACKBONE_INVALID', [dir, problems.join('; ')]);
  }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(path.join(dir, manifest.featureModel), sessionOptions(opts.threads, opts.arena));
  } catch (err) {
    throw appError('BACKBONE_INVALID', [dir, `onnxruntime could not load ${manifest.featureModel}: ${(err as Error).message}`]);
  }
  return new OnnxBackbone(manifest, dir, session, opts.maxBatch ?? 8);
}
