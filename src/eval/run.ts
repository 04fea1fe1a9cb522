/**
 * The evaluation harness: exactly the service's code path (same preprocessing, backbone, engine,
 * calibration) on an MVTec-layout category, under noisy training sets, for several methods and
 * noise levels that share one feature extraction.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Alignment, Backbone, ImageGeometry, PreprocessOptions, TrainRotations, TurnsChoice } from '../backbone/index.js';
import { decideTurns, prepareImage, turnPrepared, viewTurns } from '../backbone/index.js';
import {
  resolveEngineConfig,
  buildBankSet,
  featuresInMemory,
  anomalyMap,
  scorePatches,
  type DecisionRules,
  type DiscriminatorName,
  type EngineConfig,
  type Method,
  type BankSet,
  calibrateFrom,
  scoreLeaveOneOut,
  type SuspectEvidence,
  type SuspectFence,
  type SuspectRebuild,
  type ThresholdRule,
} from '../engine/index.js';
import { accuracyAt, aupro, auroc, confusionAt, f1At, f1Max } from './metrics.js';
import { listCategory, loadGroundTruth, type GtRule, type MvtecCategory, type MvtecTestItem } from './mvtec.js';
import { drawNoisySplit, type NoiseMode } from './noise.js';

export interface EvalOptions {
  root: string;
  noises: number[];
  overlap: boolean;
  noiseMode: NoiseMode;
  methods: Method[];
  discriminator: DiscriminatorName;
  /** One run per seed (noise draw and engine seed). */
  seeds: number[];
  /** Engine settings beyond method/discriminator/seed (e.g. coresetRatio, lofK). */
  engine?: Partial<Omit<EngineConfig, 'plus'>>;
  resize: number | null;
  crop: number | null;
  /** Turned views of the training photos (the line setting `trainRotations`). */
  trainRotations: TrainRotations;
  /** Every photo turned onto its part's axis (the line setting `align`). */
  align: Alignment;
  gtRule: GtRule;
  /** Decision rules evaluated on every build (one run row each; the first drives the contact sheet). */
  rules: DecisionRules[];
  /** Keep only the first n clean training images / the first n test images of each type (quick runs). */
  limitTrain?: number;
  limitTestPerType?: number;
  /**
   * Folder of cached features (one file per image, keyed by backbone, preprocessing and path), so
   * that runs of the same category with other engine or decision settings skip the backbone.
   */
  featureCache?: string;
  onProgress?: (msg: string) => void;
}

export interface EvalRun {
  category: string;
  method: Method;
  discriminator: DiscriminatorName | null;
  discriminatorWindow: number;
  /** The views learnt (for `auto`, as decided) and why. */
  turns: TurnsChoice;
  preprocess: PreprocessOptions;
  thresholdRule: ThresholdRule;
  suspectEvidence: SuspectEvidence;
  suspectFence: SuspectFence;
  /** `excludeSuspects`, and the rows of the classification bank kept. */
  excludeSuspects: boolean;
  suspectRebuild: SuspectRebuild;
  bankRows: number;
  /** Photos left out of the threshold (and under `excludeSuspects` the bank). */
  leftOut: number;
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
  /** Photos the threshold rests on, and the bootstrap spread of the tail threshold. */
  thresholdBasis: number;
  thresholdBootstrap: { resamples: number; sd: number; p05: number; p95: number };
  f1AtThreshold: number;
  accuracyAtThreshold: number;
  /** Confusion counts at the threshold (anomalous = score ≥ threshold). */
  atThreshold: { tp: number; fp: number; tn: number; fn: number };
  /** Share of the injected images the noise report marked suspect (null without injected images). */
  injectedFlagged: number | null;
  injectedCount: number;
  /** Injected training images the noise report flags (hits) and clean ones it flags (false flags). */
  injectedHits: number;
  cleanFlagged: number;
  cleanCount: number;
  /** Separability of the noise report's suspects (`SuspectReport.gap`, `.borderline`). */
  suspectGap: number | null;
  suspectBorderline: number;
  /** Raw per-image figures, so other decision rules can be recomputed from the JSON. */
  raw: {
    /** Leave-one-out scores against the built bank (the suspect evidence) and the bank kept. */
    trainScores: number[];
    finalTrainScores: number[];
    injected: number[];
    noise: { removedShare: number; maxScore: number; topScore: number }[];
    testScores: number[];
    testLabels: number[];
  };
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

interface Embedded {
  features: Float32Array;
  geometry: ImageGeometry;
  grid: { h: number; w: number };
}

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
  // `align` only when set: the feature cache's keys of unaligned photos stay what they were.
  const pre: PreprocessOptions =
    opts.align === 'none' ? { resize: opts.resize, crop: opts.crop } : { resize: opts.resize, crop: opts.crop, align: opts.align };
  const tEmbed = performance.now();
  const embedded = await embedImages(backbone, all, pre, 0, opts.featureCache, log);
  // Cached images cost no embedding: measured over the ones embedded now (0 when all were cached).
  const embedMsPerImage = embedded.embeddedNow ? (performance.now() - tEmbed) / embedded.embeddedNow : 0;
  const first = embedded.get(all[0].path) as Embedded;
  // `auto` is decided as a build decides it, on the clean photos the training sets are drawn from.
  const turnsChoice = await decideTurns({
    setting: opts.trainRotations,
    align: opts.align,
    photos: category.train.length,
    prepare: async (i) => prepareImage(await fs.readFile(category.train[i].path), { resize: opts.resize, crop: opts.crop }),
    turnsFit: true,
  });
  if (opts.trainRotations === 'auto')
    log(`trainRotations auto: ${turnsChoice.learned} (${turnsChoice.reason}, ${JSON.stringify(turnsChoice.spread)})`);
  const turns = viewTurns(turnsChoice.learned);
  // The turned views of every photo that may be drawn for training (clean, and the anomalous test photos).
  const turned: EmbeddedImages[] = [];
  for (const t of turns.slice(1)) {
    turned.push(
      await embedImages(backbone, [...category.train, ...category.test.filter((i) => i.anomalous)], pre, t, opts.featureCache, log),
    );
  }
  const mapSize = { w: first.geometry.cropWidth, h: first.geometry.cropHeight };
  const { grid } = first;
  const masks = new Map<string, Uint8Array>();
  if (category.pixelLevel) {
    for (const t of category.test)
      masks.set(t.path, await loadGroundTruth(t.maskPath, (embedded.get(t.path) as Embedded).geometry, opts.gtRule));
  }

  const runs: EvalRun[] = [];
  let firstRunImages: ScoredTestImage[] = [];
  let firstRunCalibration: EvalResult['firstRunCalibration'] = null;
  for (const noise of opts.noises) {
    for (const seed of opts.seeds) {
      const split = drawNoisySplit(category, { ratio: noise, mode: opts.noiseMode, overlap: opts.overlap, seed });
      const trainFeatures = featuresInMemory(
        split.train.flatMap((img) => [embedded, ...turned].map((views) => (views.get(img.path) as Embedded).features)),
        grid,
        backbone.dim,
        turns.length,
      );
      const injected = new Set(split.injected);
      for (const method of opts.methods) {
        const config = resolveEngineConfig({ ...opts.engine, method, discriminator: opts.discriminator, seed });
        log(`${category.category} noise ${noise} ${method}: building on ${trainFeatures.count} images`);
        const tBuild = performance.now();
        const built = await buildBankSet(trainFeatures, config, {
          onProgress: (p) => {
            if (p.done === p.total || p.done % 2000 === 0) log(`  ${p.stage} ${p.done}/${p.total}`);
          },
        });
        const buildMs = performance.now() - tBuild;
        samplePeak();
        const tCal = performance.now();
        const loo = await scoreLeaveOneOut({ bankSet: built.bankSet, features: trainFeatures, mapSize, blurSigma: config.blurSigma });
        const calibrationMs = performance.now() - tCal;
        const input = {
          bankSet: built.bankSet,
          features: trainFeatures,
          noise: built.noise,
          mapSize,
          blurSigma: config.blurSigma,
          rebuild: (without: ReadonlySet<number>, _progress: unknown, how: SuspectRebuild) => built.rebuildWithout(without, { how }),
        };
        const injectedIdx = split.train.map((t, i) => (injected.has(t.name) ? i : -1)).filter((i) => i >= 0);
        // The test photos scored once per bank: rules that keep the built bank share it.
        const tested = new Map<BankSet, TestScores>();
        for (const rules of opts.rules) {
          const tRecal = performance.now();
          const cal = await calibrateFrom(loo, { ...input, rules });
          const recalibrationMs = performance.now() - tRecal;
          let t = tested.get(cal.bankSet);
          if (!t) {
            t = await scoreTest(cal.bankSet, split.test, embedded, masks, grid, mapSize, config.blurSigma, category.pixelLevel);
            tested.set(cal.bankSet, t);
          }
          const { scores, labels } = t;
          if (runs.length === 0) {
            firstRunImages = t.items.map((s) => ({ ...s, anomalous: s.score > cal.threshold }));
            firstRunCalibration = { pixelMedian: cal.pixelMedian, threshold: cal.threshold };
          }
          const suspects = new Set(cal.suspects.suspects);
          const hits = injectedIdx.filter((i) => suspects.has(i)).length;
          runs.push({
            category: category.category,
            method,
            discriminator: method === 'softpatch' ? opts.discriminator : null,
            discriminatorWindow: config.discriminatorWindow,
            turns: turnsChoice,
            preprocess: pre,
            thresholdRule: rules.thresholdRule,
            suspectEvidence: rules.suspectEvidence,
            suspectFence: rules.suspectFence,
            excludeSuspects: rules.excludeSuspects,
            suspectRebuild: rules.suspectRebuild,
            bankRows: cal.bankSet.cls.rows,
            leftOut: cal.excluded.length,
            noise,
            noiseMode: opts.noiseMode,
            overlap: opts.overlap,
            seed,
            coresetRatio: config.coresetRatio,
            trainImages: split.train.length,
            testImages: split.test.length,
            movedImages: split.injected,
            imageAuroc: t.imageAuroc,
            pixelAuroc: t.pixelAuroc,
            aupro: t.aupro,
            f1Max: f1Max(scores, labels).f1,
            threshold: cal.threshold,
            thresholdBasis: cal.basis,
            thresholdBootstrap: cal.tail.bootstrap,
            f1AtThreshold: f1At(scores, labels, cal.threshold),
            accuracyAtThreshold: accuracyAt(scores, labels, cal.threshold),
            atThreshold: confusionAt(scores, labels, cal.threshold),
            injectedFlagged: injectedIdx.length ? hits / injectedIdx.length : null,
            injectedCount: injectedIdx.length,
            injectedHits: hits,
            cleanFlagged: suspects.size - hits,
            cleanCount: split.train.length - injectedIdx.length,
            suspectGap: cal.suspects.gap,
            suspectBorderline: cal.suspects.borderline,
            raw: {
              trainScores: cal.suspectScores,
              finalTrainScores: cal.scores,
              injected: injectedIdx,
              noise: built.noise.map((e) => ({ removedShare: e.removedShare, maxScore: e.maxScore, topScore: e.topScore })),
              testScores: scores,
              testLabels: labels,
            },
            buildMs: Math.round(buildMs),
            calibrationMs: Math.round(calibrationMs + recalibrationMs),
            inferMsPerImage: +(t.inferMs + embedMsPerImage).toFixed(1),
            peakRssMb: samplePeak(),
          });
        }
        log(
          `  image AUROC ${runs[runs.length - 1].imageAuroc.toFixed(4)}, pixel AUROC ${runs[runs.length - 1].pixelAuroc?.toFixed(4) ?? '—'}`,
        );
      }
    }
  }
  return { runs, firstRunImages, firstRunCalibration, mapSize, embedMsPerImage };
}

interface TestScores {
  scores: number[];
  labels: number[];
  items: Omit<ScoredTestImage, 'anomalous'>[];
  imageAuroc: number;
  pixelAuroc: number | null;
  aupro: number | null;
  inferMs: number;
}

async function scoreTest(
  bankSet: BankSet,
  test: MvtecTestItem[],
  embedded: Map<string, Embedded>,
  masks: Map<string, Uint8Array>,
  grid: { h: number; w: number },
  mapSize: { w: number; h: number },
  blurSigma: number,
  pixelLevel: boolean,
): Promise<TestScores> {
  const scores: number[] = [];
  const labels: number[] = [];
  const maps: Float32Array[] = [];
  const gts: Uint8Array[] = [];
  const items: TestScores['items'] = [];
  const t0 = performance.now();
  for (const item of test) {
    const e = embedded.get(item.path) as Embedded;
    const r = await scorePatches(bankSet, e.features);
    const map = anomalyMap(r.mapScores, grid, mapSize.h, mapSize.w, blurSigma);
    scores.push(r.imageScore);
    labels.push(item.anomalous ? 1 : 0);
    if (pixelLevel) {
      maps.push(map);
      gts.push(masks.get(item.path) as Uint8Array);
    }
    items.push({ item, geometry: e.geometry, map, score: r.imageScore });
  }
  const inferMs = (performance.now() - t0) / test.length;
  return {
    scores,
    labels,
    items,
    imageAuroc: auroc(scores, labels),
    pixelAuroc: pixelLevel ? auroc(concat(maps), concatU8(gts)) : null,
    aupro: pixelLevel ? aupro(maps, gts, mapSize.w, mapSize.h, 0.3) : null,
    inferMs,
  };
}

type EmbeddedImages = Map<string, Embedded> & { embeddedNow: number };

/**
 * Features of `images` turned by `turns` quarter turns (0: as they are), from the cache where it
 * has them (the key of turn 0 predates turns, so older caches still serve it).
 */
async function embedImages(
  backbone: Backbone,
  images: readonly { path: string }[],
  pre: PreprocessOptions,
  turns: number,
  featureCache: string | undefined,
  log: (msg: string) => void,
): Promise<EmbeddedImages> {
  const embedded = Object.assign(new Map<string, Embedded>(), { embeddedNow: 0 });
  const cacheFile = (p: string): string | null => {
    if (!featureCache) return null;
    const key = createHash('sha256')
      .update(JSON.stringify(turns === 0 ? [backbone.sha256, pre, path.resolve(p)] : [backbone.sha256, pre, path.resolve(p), turns]))
      .digest('hex')
      .slice(0, 32);
    return path.join(featureCache, `${key}.json`);
  };
  const pending: { path: string }[] = [];
  for (const img of images) {
    const file = cacheFile(img.path);
    const hit = file ? await readCached(file) : null;
    if (hit) embedded.set(img.path, hit);
    else pending.push(img);
  }
  if (featureCache) await fs.mkdir(featureCache, { recursive: true });
  const BATCH = 8;
  for (let i = 0; i < pending.length; i += BATCH) {
    const chunk = pending.slice(i, i + BATCH);
    const prepared = await Promise.all(chunk.map(async (img) => turnPrepared(await prepareImage(await fs.readFile(img.path), pre), turns)));
    const feats = await backbone.embed(prepared);
    for (const [k, img] of chunk.entries()) {
      const e = { features: feats[k].data, geometry: prepared[k].geometry, grid: feats[k].grid };
      embedded.set(img.path, e);
      const file = cacheFile(img.path);
      if (file) await writeCached(file, e);
    }
    log(
      `embedding${turns ? ` (turned ${turns * 90}°)` : ''} ${Math.min(i + BATCH, pending.length)}/${pending.length} (${images.length - pending.length} cached)`,
    );
    samplePeak();
  }
  embedded.embeddedNow = pending.length;
  return embedded;
}

/** Cached features: a JSON header line (geometry, length) then the raw float32 values. */
async function readCached(file: string): Promise<Embedded | null> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch {
    return null;
  }
  const nl = bytes.indexOf(10);
  const head = JSON.parse(bytes.subarray(0, nl).toString('utf8')) as { geometry: ImageGeometry; grid: Embedded['grid']; length: number };
  const body = bytes.subarray(nl + 1);
  if (body.length !== head.length * 4) return null;
  const features = new Float32Array(head.length);
  new Uint8Array(features.buffer).set(body);
  return { features, geometry: head.geometry, grid: head.grid };
}

async function writeCached(file: string, e: Embedded): Promise<void> {
  const head = Buffer.from(`${JSON.stringify({ geometry: e.geometry, grid: e.grid, length: e.features.length })}\n`);
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, Buffer.concat([head, Buffer.from(e.features.buffer, e.features.byteOffset, e.features.byteLength)]));
  await fs.rename(tmp, file);
}

function concat(arrays: Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of arrays) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

function concatU8(arrays: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of arrays) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}
