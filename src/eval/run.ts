/**
 * The evaluation harness: exactly the service's code path (same preprocessing, backbone, engine,
 * calibration) on an MVTec-layout category, under noisy training sets, for several methods and
 * noise levels that share one feature extraction.
 */
import fs from 'node:fs/promises';
import type { Backbone, ImageGeometry } from '../backbone/index.js';
import { prepareImage } from '../backbone/index.js';
import { resolveEngineConfig, buildBankSet, anomalyMap, scorePatches, type DiscriminatorName, type EngineConfig, type Method, calibrate, DEFAULT_SENSITIVITY, DEFAULT_SUSPECT_SHARE, suspectImages } from '../engine/index.js';
import { accuracyAt, aupro, auroc, f1At, f1Max } from './metrics.js';
import { listCategory, loadGroundTruth, type GtRule, type MvtecCategory, type MvtecTestItem } from './mvtec.js';
import { drawNoisySplit, type NoiseMode } from './noise.js';

export interface EvalOptions {
  root: string;
  noises: number[];
  overlap: boolean;
  noiseMode: NoiseMode;
  methods: Method[];
  discriminator: DiscriminatorName;
  seed: number;
  /** Engine settings beyond method/discriminator/seed (e.g. coresetRatio, lofK). */
  engine?: Partial<Omit<EngineConfig, 'plus'>>;
  resize: number | null;
  crop: number | null;
  gtRule: GtRule;
  /** Keep only the first n clean training images / the first n test images of each type (quick runs). */
  limitTrain?: number;
  limitTestPerType?: number;
  onProgress?: (msg: string) => void;
}

export interface EvalRun {
  category: string;
  method: Method;
  discriminator: DiscriminatorName | null;
  noise: number;
  noiseMode: NoiseMode;
  overlap: boolean;
  seed: number;
  coresetRatio: number;
  trainImages: number;
  testImages: number;
  movedImages: string[];
  imageAuroc: number;
  pixelAuroc: number | null;
  aupro: number | null;
  f1Max: number;
  threshold: number;
  f1AtThreshold: number;
  accuracyAtThreshold: number;
  /** Share of the injected images the noise report marked suspect (null without injected images). */
  injectedFlagged: number | null;
  buildMs: number;
  calibrationMs: number;
  inferMsPerImage: number;
  peakRssMb: number;
}

/** Per-test-image output kept for contact sheets. */
export interface ScoredTestImage {
  item: MvtecTestItem;
  geometry: ImageGeometry;
  map: Float32Array;
  score: number;
  anomalous: boolean;
}

export interface EvalResult {
  runs: EvalRun[];
  /** Scored test images of the first run and its calibration (for `--heatmaps`). */
  firstRunImages: ScoredTestImage[];
  firstRunCalibration: { pixelMedian: number; threshold: number } | null;
  mapSize: { w: number; h: number };
  embedMsPerImage: number;
}

interface Embedded { features: Float32Array; geometry: ImageGeometry }

let peakRss = 0;
function samplePeak(): number {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  return Math.round(peakRss / 1048576);
}

function limitCategory(cat: MvtecCategory, opts: EvalOptions): MvtecCategory {
  const train = opts.limitTrain ? cat.train.slice(0, opts.limitTrain) : cat.train;
  if (!opts.limitTestPerType) return { ...cat, train };
  const perType = new Map<string, number>();
  const test = cat.test.filter((t) => {
    const n = perType.get(t.type) ?? 0;
    perType.set(t.type, n + 1);
    return n < (opts.limitTestPerType as number);
  });
  return { ...cat, train, test };
}

export async function runEvaluation(backbone: Backbone, opts: EvalOptions): Promise<EvalResult> {
  const log = opts.onProgress ?? (() => {});
  const category = limitCategory(await listCategory(opts.root), opts);
  const all = [...category.train, ...category.test];
  const embedded = new Map<string, Embedded>();
  const pre = { resize: opts.resize, crop: opts.crop };
  const tEmbed = performance.now();
  const BATCH = 8;
  for (let i = 0; i < all.length; i += BATCH) {
    const chunk = all.slice(i, i + BATCH);
    const prepared = await Promise.all(chunk.map(async (img) => prepareImage(await fs.readFile(img.path), pre)));
    const feats = await backbone.embed(prepared);
    chunk.forEach((img, k) => embedded.set(img.path, { features: feats[k].data, geometry: prepared[k].geometry }));
    log(`embedding ${Math.min(i + BATCH, all.length)}/${all.length}`);
    samplePeak();
  }
  const embedMsPerImage = (performance.now() - tEmbed) / all.length;
  const first = embedded.get(all[0].path) as Embedded;
  const mapSize = { w: first.geometry.cropWidth, h: first.geometry.cropHeight };
  const grid = { h: mapSize.h / 8, w: mapSize.w / 8 };
  const masks = new Map<string, Uint8Array>();
  if (category.pixelLevel) {
    for (const t of category.test) masks.set(t.path, await loadGroundTruth(t.maskPath, (embedded.get(t.path) as Embedded).geometry, opts.gtRule));
  }

  const runs: EvalRun[] = [];
  let firstRunImages: ScoredTestImage[] = [];
  let firstRunCalibration: EvalResult['firstRunCalibration'] = null;
  for (const noise of opts.noises) {
    const split = drawNoisySplit(category, { ratio: noise, mode: opts.noiseMode, overlap: opts.overlap, seed: opts.seed });
    const trainFeatures = split.train.map((img) => (embedded.get(img.path) as Embedded).features);
    const injected = new Set(split.injected);
    for (const method of opts.methods) {
      const config = resolveEngineConfig({ ...opts.engine, method, discriminator: opts.discriminator, seed: opts.seed });
      log(`${category.category} noise ${noise} ${method}: building on ${trainFeatures.length} images`);
      const tBuild = performance.now();
      const built = await buildBankSet({ images: trainFeatures, grid, dim: backbone.dim }, config, {
        onProgress: (p) => { if (p.done === p.total || p.done % 2000 === 0) log(`  ${p.stage} ${p.done}/${p.total}`); },
      });
      const buildMs = performance.now() - tBuild;
      samplePeak();
      const suspects = suspectImages(built.noise, DEFAULT_SUSPECT_SHARE);
      const tCal = performance.now();
      const cal = await calibrate({ bankSet: built.bankSet, features: trainFeatures, suspects, sensitivity: DEFAULT_SENSITIVITY, mapSize, blurSigma: config.blurSigma });
      const calibrationMs = performance.now() - tCal;

      const scores: number[] = [];
      const labels: number[] = [];
      const maps: Float32Array[] = [];
      const gts: Uint8Array[] = [];
      const scored: ScoredTestImage[] = [];
      const tInfer = performance.now();
      for (const item of split.test) {
        const e = embedded.get(item.path) as Embedded;
        const r = await scorePatches(built.bankSet, e.features);
        const map = anomalyMap(r.mapScores, grid, mapSize.h, mapSize.w, config.blurSigma);
        scores.push(r.imageScore);
        labels.push(item.anomalous ? 1 : 0);
        if (category.pixelLevel) { maps.push(map); gts.push(masks.get(item.path) as Uint8Array); }
        if (runs.length === 0) scored.push({ item, geometry: e.geometry, map, score: r.imageScore, anomalous: r.imageScore > cal.threshold });
      }
      const inferMs = (performance.now() - tInfer) / split.test.length + embedMsPerImage;
      if (runs.length === 0) {
        firstRunImages = scored;
        firstRunCalibration = { pixelMedian: cal.pixelMedian, threshold: cal.threshold };
      }

      const pixelScores = category.pixelLevel ? concat(maps) : null;
      const pixelLabels = category.pixelLevel ? concatU8(gts) : null;
      const injectedIdx = split.train.map((t, i) => (injected.has(t.name) ? i : -1)).filter((i) => i >= 0);
      runs.push({
        category: category.category, method, discriminator: method === 'softpatch' ? opts.discriminator : null,
        noise, noiseMode: opts.noiseMode, overlap: opts.overlap, seed: opts.seed, coresetRatio: config.coresetRatio,
        trainImages: split.train.length, testImages: split.test.length, movedImages: split.injected,
        imageAuroc: auroc(scores, labels),
        pixelAuroc: pixelScores && pixelLabels ? auroc(pixelScores, pixelLabels) : null,
        aupro: category.pixelLevel ? aupro(maps, gts, mapSize.w, mapSize.h, 0.3) : null,
        f1Max: f1Max(scores, labels).f1,
        threshold: cal.threshold,
        f1AtThreshold: f1At(scores, labels, cal.threshold),
        accuracyAtThreshold: accuracyAt(scores, labels, cal.threshold),
        injectedFlagged: injectedIdx.length ? injectedIdx.filter((i) => suspects.has(i)).length / injectedIdx.length : null,
        buildMs: Math.round(buildMs), calibrationMs: Math.round(calibrationMs),
        inferMsPerImage: +inferMs.toFixed(1), peakRssMb: samplePeak(),
      });
      log(`  image AUROC ${runs[runs.length - 1].imageAuroc.toFixed(4)}, pixel AUROC ${runs[runs.length - 1].pixelAuroc?.toFixed(4) ?? '—'}`);
    }
  }
  return { runs, firstRunImages, firstRunCalibration, mapSize, embedMsPerImage };
}

function concat(arrays: Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of arrays) { out.set(a, o); o += a.length; }
  return out;
}

function concatU8(arrays: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of arrays) { out.set(a, o); o += a.length; }
  return out;
}
