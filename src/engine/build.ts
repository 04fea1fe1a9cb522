/**
 * Building a bank set from training features: PatchCore (spec §5), SoftPatch (§4-§5) and
 * SoftPatch+ (§7.2). Random draws, in this order from one generator seeded with `config.seed`:
 * R_disc, R_core, S0, then (SoftPatch+ without a shared projection) R_core and S0 of the
 * segmentation bank. R_disc is drawn for every method so that the same seed gives every method the
 * same coreset projection and start points.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { appError } from '../common/errors.js';
import { resolveEngineConfig } from './config.js';
import { greedyCoreset } from './coreset/coreset.js';
import { drawStartPoints } from './coreset/metric.js';
import { type FinishedRun, repairCoreset } from './coreset/repair.js';
import { type PatchSet } from './denoise/discriminators.js';
import { discriminatePositions } from './denoise/positions.js';
import { fuseScores } from './denoise/fusion.js';
import { windowDiscriminate } from './denoise/window.js';
import { bankRows } from './kernels/exact.js';
import { Projector, drawProjection } from './kernels/projection.js';
import { createRng } from './kernels/random.js';
import { removeOutliers, softWeights } from './denoise/removal.js';
import type {
  Bank,
  BankSet,
  BuildProgress,
  RebuildHooks,
  BuildResult,
  DiscriminatorName,
  EngineConfig,
  NoiseEntry,
  TrainingFeatures,
} from './types.js';

export interface BuildHooks {
  onProgress?(p: BuildProgress): void;
  signal?: AbortSignal;
  /** Refuse builds whose estimated memory (`estimateBuildBytes`) exceeds this. */
  maxBytes?: number;
  /** Threads of the projection and the coreset (default 1 and up to 2); never changes the result. */
  threads?: number;
}

function cancelled(): Error {
  return appError('CANCELLED', ['build cancelled']);
}

function isPlus(config: EngineConfig): boolean {
  return config.method === 'softpatch+';
}

function discriminatorsOf(config: EngineConfig): DiscriminatorName[] {
  if (config.method === 'patchcore') return [];
  return isPlus(config) ? config.plus.discriminators : [config.discriminator];
}

function picksFor(ratio: number, rows: number): number {
  return Math.max(1, Math.floor(ratio * rows));
}

/**
 * Peak memory of a build in bytes: the training features (unless `featuresInMemory` is false: they
 * are read from elsewhere), projections, scores, the coreset's working set (~300 bytes a row) and the banks.
 */
export interface BuildEstimateOptions {
  /** false: the features are read from elsewhere (default true). */
  featuresInMemory?: boolean;
  /** The banks are chosen a second time without the left-out photos (`excludeSuspects`): two sets held at once. */
  secondCoreset?: boolean;
  /** Views per photo (`TrainingFeatures.views`, default 1): every view is denoised and offered to the coreset. */
  views?: number;
}

export function estimateBuildBytes(
  images: number,
  patches: number,
  dim: number,
  config: EngineConfig,
  opts: BuildEstimateOptions = {},
): number {
  const { featuresInMemory = true, secondCoreset = false, views = 1 } = opts;
  const n = images * views * patches;
  const d = config.projectionDim === dim ? dim : config.projectionDim;
  const plus = isPlus(config);
  const separate = plus && !config.plus.sharedProjection;
  const discriminators = discriminatorsOf(config).length;
  const projDisc = discriminators > 0 && config.discriminatorSpace === 'proj128' && d !== dim ? n * d * 4 : 0;
  const projCore = n * d * 4 * (separate ? 2 : 1);
  const scores = discriminators > 0 ? n * 8 * (discriminators + 3) : 0;
  // Window neighbour lists: index (4 bytes) and distance (8 bytes) per neighbour.
  const windowLists = discriminators > 0 && config.discriminatorWindow > 0 ? n * config.lofK * 12 : 0;
  const masks = n * 10;
  const coreset = n * 300;
  const ratios = plus
    ? [config.plus.coresetRatioCls ?? config.coresetRatio, config.plus.coresetRatioSeg ?? config.coresetRatio]
    : [config.coresetRatio];
  const banks = ratios.reduce((sum, r) => sum + picksFor(r, images * patches) * (dim * 4 + 8), 0);
  // Features read from elsewhere cost an image or two at a time, unless the discriminators need them all.
  const held = featuresInMemory || (discriminators > 0 && config.discriminatorSpace === 'full') ? images * views : 2;
  return held * patches * dim * 4 + projDisc + projCore + scores + windowLists + masks + coreset + banks * (secondCoreset ? 2 : 1);
}

function checkFeatures(features: TrainingFeatures): void {
  const { count, grid, dim, views = 1 } = features;
  const problems: string[] = [];
  if (!(Number.isInteger(count) && count > 0)) problems.push('no training images');
  if (!(Number.isInteger(views) && views > 0)) problems.push(`bad number of views ${views}`);
  if (!(Number.isInteger(grid?.h) && Number.isInteger(grid?.w) && grid.h > 0 && grid.w > 0))
    problems.push(`bad grid ${JSON.stringify(grid)}`);
  if (!(Number.isInteger(dim) && dim > 0)) problems.push(`bad feature dimension ${dim}`);
  if (problems.length > 0) throw appError('ENGINE_INPUT', [problems.slice(0, 5).join('; ')]);
}

/**
 * The build's images are the photos' views, photo-major: image i is view i mod V of photo ⌊i / V⌋,
 * so a photo's patches are contiguous (its rows n of [b·V·P, (b+1)·V·P)).
 */
function readView(features: TrainingFeatures, i: number): Promise<Float32Array> {
  const views = features.views ?? 1;
  return features.read(Math.floor(i / views), i % views);
}

/** Image i of the build (`readView`), checked against the grid (each is read here first, by the projection). */
async function readImage(features: TrainingFeatures, i: number): Promise<Float32Array> {
  const img = await readView(features, i);
  const { grid, dim } = features;
  if (!(img instanceof Float32Array) || img.length !== grid.h * grid.w * dim) {
    throw appError('ENGINE_INPUT', [`image ${i} has ${img?.length} values, expected ${grid.h}×${grid.w}×${dim}`]);
  }
  return img;
}

function checkFinite(values: Float32Array, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw appError('ENGINE_INPUT', [`${what} contain NaN or infinite values`]);
  }
}

interface Projections {
  /** Discriminator input (proj128 space), N × d; null when the discriminators read the features. */
  disc: Float32Array | null;
  /** The features themselves, only when the discriminators read them (`discriminatorSpace: 'full'`). */
  full: Float32Array[] | null;
  /** Coreset inputs (one, or two without a shared projection), N × d in SharedArrayBuffers. */
  core: Float32Array[];
  coreDim: number;
}

async function project(
  features: TrainingFeatures,
  config: EngineConfig,
  matrices: { disc: Float32Array; core: Float32Array[] },
  threads: number,
  afterImage: (b: number) => Promise<void>,
): Promise<Projections> {
  const { dim } = features;
  const count = features.count * (features.views ?? 1);
  const P = features.grid.h * features.grid.w;
  const n = count * P;
  const d = config.projectionDim;
  // As PatchCore does: no projection when the features already have the target dimension.
  const identity = d === dim;
  const wantDisc = discriminatorsOf(config).length > 0 && config.discriminatorSpace === 'proj128' && !identity;
  const shared = (): Float32Array => new Float32Array(new SharedArrayBuffer(n * d * 4));
  // Shared, so that a second thread can score positions (`discriminatePositions`).
  const disc = wantDisc ? shared() : null;
  const core = identity ? [shared()] : matrices.core.map(() => shared());
  const used = [...(disc ? [matrices.disc] : []), ...(identity ? [] : matrices.core)];
  const outs = [...(disc ? [disc] : []), ...(identity ? [] : core)];
  const projector = used.length > 0 ? new Projector(used, dim, threads) : null;
  const full = discriminatorsOf(config).length > 0 && !disc ? ([] as Float32Array[]) : null;
  for (let b = 0; b < count; b++) {
    const img = await readImage(features, b);
    if (projector) await projector.project(img, P, outs, b * P);
    else core[0].set(img, b * P * dim);
    full?.push(img);
    await afterImage(b);
  }
  for (const c of core) checkFinite(c, 'the features');
  if (disc) checkFinite(disc, 'the features');
  return { disc, full, core: identity && matrices.core.length === 2 ? [core[0], core[0]] : core, coreDim: d };
}

/**
 * Share of an image's patches whose mean outlier score is its `topScore`: a small defect covers a
 * handful of the P patches, so it hardly moves the removed share or the mean but dominates the top.
 */
export const TOP_SCORE_SHARE = 0.01;

/** Per-image share of removed patches and the mean/max/top-share mean of its outlier scores (`patches`: all its views'). */
function noiseEntries(images: number, patches: number, keep: Uint8Array | null, scores: Float64Array | null): NoiseEntry[] {
  const top = Math.max(1, Math.ceil(TOP_SCORE_SHARE * patches));
  const own = new Float64Array(patches);
  return Array.from({ length: images }, (_, b) => {
    let removed = 0;
    let sum = 0;
    let max = scores ? -Infinity : 0;
    for (let p = 0; p < patches; p++) {
      const n = b * patches + p;
      if (keep && keep[n] === 0) removed++;
      if (scores) {
        sum += scores[n];
        if (scores[n] > max) max = scores[n];
        own[p] = scores[n];
      }
    }
    let topScore = 0;
    if (scores) {
      own.sort();
      for (let i = patches - top; i < patches; i++) topScore += own[i];
      topScore /= top;
    }
    return { image: b, removedShare: removed / patches, meanScore: sum / patches, maxScore: max, topScore };
  });
}

/** The bank of the `selected` patches (in pick order), reading each image that holds some once; rows name their photo. */
async function assembleBank(features: TrainingFeatures, selected: Int32Array, weights: Float32Array | null): Promise<Bank> {
  const { dim } = features;
  const P = features.grid.h * features.grid.w;
  const views = features.views ?? 1;
  const rows = selected.length;
  // In shared memory, so that the calibration's second lane reads this copy rather than one of its
  // own; the rows in a WebAssembly memory where they fit, for the search's exact distances.
  const bank: Bank = {
    rows,
    dim,
    ...bankRows(rows, dim),
    weights: new Float32Array(new SharedArrayBuffer(rows * 4)),
    sourceImage: new Int32Array(new SharedArrayBuffer(rows * 4)),
  };
  const byImage = Int32Array.from({ length: rows }, (_, m) => m).sort((x, y) => selected[x] - selected[y]);
  let img: Float32Array | null = null;
  let imgIndex = -1;
  for (const m of byImage) {
    const c = selected[m];
    const b = Math.floor(c / P);
    const p = c - b * P;
    if (b !== imgIndex) {
      img = await readView(features, b);
      imgIndex = b;
    }
    bank.features.set(img!.subarray(p * dim, (p + 1) * dim), m * dim);
    bank.weights[m] = weights ? weights[c] : 1;
    bank.sourceImage[m] = Math.floor(b / views);
  }
  return bank;
}

/** 1 per patch of each photo as uploaded (view 0) that the denoising removed: what the removal overlay draws. */
function removedOfPhotos(keep: Uint8Array, photos: number, views: number, patches: number): Uint8Array {
  const removed = new Uint8Array(photos * patches);
  for (let b = 0; b < photos; b++) {
    const from = b * views * patches;
    for (let p = 0; p < patches; p++) removed[b * patches + p] = keep[from + p] === 0 ? 1 : 0;
  }
  return removed;
}

interface Denoised {
  keepCls: Uint8Array;
  keepSeg: Uint8Array | null;
  weights: Float32Array | null;
  /** The score the noise report shows (raw score; SoftPatch+: fused). */
  reportScores: Float64Array | null;
  removedCount: number;
}

function denoise(config: EngineConfig, scores: Map<DiscriminatorName, Float64Array>, images: number, patches: number, n: number): Denoised {
  if (config.method === 'patchcore')
    return { keepCls: new Uint8Array(n).fill(1), keepSeg: null, weights: null, reportScores: null, removedCount: 0 };
  if (config.method === 'softpatch') {
    const s = scores.get(config.discriminator)!;
    const removal = removeOutliers(s, config.removalQuantile);
    return {
      keepCls: removal.keep,
      keepSeg: null,
      weights: config.softWeights ? softWeights(s) : null,
      reportScores: s,
      removedCount: removal.removedCount,
    };
  }
  const { plus } = config;
  const u = fuseScores(
    plus.discriminators.map((name) => scores.get(name)!),
    plus,
    images,
    patches,
  );
  const cls = removeOutliers(u, plus.tauCls);
  const seg = removeOutliers(u, plus.tauSeg);
  const lof = scores.get('lof');
  let weights: Float32Array | null = null;
  if (config.softWeights && plus.weightSource !== 'none') {
    weights = plus.weightSource === 'lof' && lof ? softWeights(lof) : Float32Array.from(u, (v) => 1 + v);
  }
  return { keepCls: cls.keep, keepSeg: seg.keep, weights, reportScores: u, removedCount: cls.removedCount };
}

export async function buildBankSet(features: TrainingFeatures, config: EngineConfig, hooks: BuildHooks = {}): Promise<BuildResult> {
  const started = performance.now();
  const cfg = resolveEngineConfig(config);
  checkFeatures(features);
  const { dim, grid } = features;
  const B = features.count;
  const V = features.views ?? 1;
  const P = grid.h * grid.w;
  // Images of the build: every view of every photo (`readView`).
  const I = B * V;
  const N = I * P;
  if (hooks.maxBytes !== undefined) {
    const need = estimateBuildBytes(B, P, dim, cfg, { featuresInMemory: features.resident, views: V });
    if (need > hooks.maxBytes) {
      const mb = (v: number): string => `${Math.ceil(v / 2 ** 20)} MB`;
      throw appError('OVER_CAPACITY', [
        `a build of ${B} images${V > 1 ? ` × ${V} views` : ''} × ${P} patches × ${dim} dims needs about ${mb(need)}, more than the limit of ${mb(hooks.maxBytes)}`,
      ]);
    }
  }
  const { signal, onProgress } = hooks;
  const timingsMs: Record<string, number> = {};
  let clock = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    timingsMs[name] = Math.round(now - clock);
    clock = now;
  };
  if (signal?.aborted) throw cancelled();

  const plus = isPlus(cfg);
  const separate = plus && !cfg.plus.sharedProjection;
  const rng = createRng(cfg.seed);
  const rDisc = drawProjection(rng, cfg.projectionDim, dim);
  const rCore = [drawProjection(rng, cfg.projectionDim, dim)];
  const starts = [drawStartPoints(rng, N, cfg.startPoints)];
  if (separate) {
    rCore.push(drawProjection(rng, cfg.projectionDim, dim));
    starts.push(drawStartPoints(rng, N, cfg.startPoints));
  }

  const names = discriminatorsOf(cfg);
  const denoiseTotal = I + (names.length > 0 ? P : 0);
  // Called after each image projected and each block of positions scored.
  const denoised = async (done: number): Promise<void> => {
    await yieldToLoop();
    if (signal?.aborted) throw cancelled();
    onProgress?.({ stage: 'denoising', done, total: denoiseTotal });
  };
  const projections = await project(features, cfg, { disc: rDisc, core: rCore }, hooks.threads ?? 1, (b) => denoised(b + 1));
  lap('projection');

  const scores = new Map<DiscriminatorName, Float64Array>();
  if (names.length > 0) {
    const d = cfg.projectionDim;
    const disc = projections.disc;
    // Every view is one more image at each position; a photo's own other views show other parts
    // of it there, so they need no exclusion.
    const set: PatchSet = disc
      ? { images: Array.from({ length: I }, (_, b) => disc.subarray(b * P * d, (b + 1) * P * d)), patches: P, dim: d }
      : { images: projections.full!, patches: P, dim };
    const opts = { lofK: cfg.lofK, lofScoreCap: cfg.lofScoreCap };
    const windowed = cfg.discriminatorWindow > 0 ? names.filter((n) => n !== 'gaussian') : [];
    const perPosition = names.filter((n) => n === 'gaussian' || windowed.length === 0);
    if (windowed.length > 0) {
      const w = await windowDiscriminate(set, grid, cfg.discriminatorWindow, {
        ...opts,
        threads: hooks.threads,
        onPositions: (done) => denoised(I + done),
      });
      for (const n of windowed) scores.set(n, n === 'lof' ? w.lof : w.nearest);
    }
    if (perPosition.length > 0) {
      const perPositionScores = await discriminatePositions(set, perPosition, opts, {
        threads: hooks.threads,
        onPositions: (done) => denoised(I + done),
      });
      for (const [n, v] of perPositionScores) scores.set(n, v);
    }
  }
  lap('discrimination');
  const removal = denoise(cfg, scores, I, P, N);
  lap('removal');

  const ratioCls = plus ? (cfg.plus.coresetRatioCls ?? cfg.coresetRatio) : cfg.coresetRatio;
  const ratioSeg = cfg.plus.coresetRatioSeg ?? cfg.coresetRatio;
  const runs = [{ name: 'coresetCls', keep: removal.keepCls, ratio: ratioCls, core: 0 }];
  if (plus) runs.push({ name: 'coresetSeg', keep: removal.keepSeg!, ratio: ratioSeg, core: separate ? 1 : 0 });
  /**
   * The coreset(s) over the kept patches of the photos not in `without` (of as many photos). The
   * bank keeps ρ rows per patch of a photo as uploaded, whatever its views: turned views widen the
   * poses it chooses from, not its size (nor the cost of an inspection).
   */
  // The first choice's runs, for `suspectRebuild: 'repair'`.
  const finished: FinishedRun[] = [];
  const chooseBanks = async (without: ReadonlySet<number>, coresetHooks: RebuildHooks): Promise<Bank[]> => {
    const how = coresetHooks.how ?? 'coreset';
    const photos = B - without.size;
    const repair = without.size > 0 && how === 'repair';
    const totalPicks = runs.reduce((s, r) => s + picksFor(r.ratio, photos * P), 0);
    let picksBefore = 0;
    const banks: Bank[] = [];
    for (const [i, run] of runs.entries()) {
      const keep = without.size === 0 ? run.keep : Uint8Array.from(run.keep, (k, n) => (without.has(Math.floor(n / (V * P))) ? 0 : k));
      const picks = picksFor(run.ratio, photos * P);
      const input = {
        y: projections.core[run.core],
        count: N,
        dim: projections.coreDim,
        keep,
        picks,
        startPoints: starts[run.core],
        // Without photos, none of their patches may be picked first either.
        firstPickRespectsMask: cfg.firstPickRespectsMask || without.size > 0,
      };
      let selected: Int32Array;
      if (repair) {
        selected = (await repairCoreset(input, finished[i], hooks.threads ?? 1)).selected;
      } else {
        const result = await greedyCoreset(input, {
          threads: hooks.threads,
          signal: coresetHooks.signal,
          onProgress: (done) => coresetHooks.onProgress?.({ stage: 'coreset', done: picksBefore + done, total: totalPicks }),
        });
        selected = result.selected;
        if (without.size === 0) finished.push(result);
      }
      picksBefore += picks;
      coresetHooks.onProgress?.({ stage: 'coreset', done: picksBefore, total: totalPicks });
      banks.push(await assembleBank(features, selected, removal.weights));
      if (without.size === 0) lap(run.name);
    }
    return banks;
  };
  const banks = await chooseBanks(new Set(), { onProgress, signal });
  const bankSetOf = (b: Bank[]): BankSet => ({ method: cfg.method, grid: { h: grid.h, w: grid.w }, cls: b[0], seg: b[1] ?? null });
  timingsMs.total = Math.round(performance.now() - started);
  return {
    bankSet: bankSetOf(banks),
    rebuildWithout: async (without, again = {}) => bankSetOf(await chooseBanks(without, again)),
    noise: noiseEntries(B, V * P, cfg.method === 'patchcore' ? null : removal.keepCls, removal.reportScores),
    removed: removedOfPhotos(removal.keepCls, B, V, P),
    stats: { removedShare: removal.removedCount / N, timingsMs },
  };
}
