/**
 * Build process (forked by the build manager, builds.ts): embeds the line's training images with the backbone (streaming them in
 * batches), builds the bank set, calibrates the threshold without labels (guide §3), assembles the
 * noise report and writes the complete bank folder into the line's tmp/. The manager renames it
 * into place. Progress and stage timings are posted as they happen; a `cancel` message aborts at
 * the next batch or engine checkpoint.
 */
import { appError, catalogued, isAppError } from '../common/errors.js';
import { lowerThreadPriority } from '../common/priority.js';
import { decideTurns, loadBackbone, prepareImage, turnPrepared, viewTurns, type Backbone, type TurnsChoice } from '../backbone/index.js';
import type { ImageGeometry, PreparedImage } from '../backbone/types.js';
import { buildBankSet, type TrainingFeatures, calibrate } from '../engine/index.js';
import { decisionRulesFor } from './line-config.js';
import { colorScale } from '../render/heatmap.js';
import { BankStore } from '../store/banks.js';
import { FeatureSpill } from '../store/feature-spill.js';
import { ImageStore } from '../store/images.js';
import { Layout } from '../store/paths.js';
import type { BuildStage } from '../store/types.js';
import type { BuildJob, ManagerMessage, StagedBank, WorkerMessage } from './build-protocol.js';
import { COLORMAP } from '../render/colormap.js';
import { noiseReport, noiseReportEntries, type TrainingImageRef } from './noise-report.js';

/** Nice value of a build: inspections and the event loop come first when the cores are busy. */
const BUILD_NICE = 10;

// Before onnxruntime and the coreset start their threads, which inherit it (elsewhere than Linux
// the build runs at normal priority).
lowerThreadPriority(BUILD_NICE);
// The channel closes when the service stops or dies: nobody would commit this build any more.
process.on('disconnect', () => process.exit(1));
const abort = new AbortController();
const job = await new Promise<BuildJob>((resolve) => {
  process.on('message', (msg: ManagerMessage) => {
    if (msg.type === 'start') resolve(msg.job);
    else abort.abort();
  });
});

function post(msg: WorkerMessage): void {
  if (process.connected) process.send!(msg);
}

function checkCancelled(): void {
  if (abort.signal.aborted) throw appError('CANCELLED', ['the build was cancelled']);
}

/** Posts each stage's wall time when the next stage begins. */
class StageClock {
  private current: string | null = null;
  private started = 0;

  enter(stage: BuildStage): void {
    if (stage === this.current) return;
    this.finish();
    this.current = stage;
    this.started = performance.now();
  }

  finish(): void {
    if (this.current !== null) post({ type: 'timing', stage: this.current, ms: Math.round(performance.now() - this.started) });
    this.current = null;
  }
}

const clock = new StageClock();

function progress(stage: BuildStage, done: number, total: number): void {
  clock.enter(stage);
  post({ type: 'progress', stage, done, total });
}

interface Embedded {
  features: TrainingFeatures;
  used: TrainingImageRef[];
  crop: { width: number; height: number };
  turns: TurnsChoice;
}

/** Training photo i prepared for the backbone; null when it was deleted since the build started, or is unreadable. */
async function preparePhoto(store: ImageStore, i: number, align = job.config.align): Promise<PreparedImage | null> {
  try {
    const bytes = await store.readRecordBytes(job.line, job.images[i]);
    return await prepareImage(bytes, { resize: job.config.resize, crop: job.config.crop, align, maxPixels: job.maxPixels });
  } catch (err) {
    if (!isAppError(err) && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return null;
  }
}

async function embedAll(backbone: Backbone, spill: FeatureSpill): Promise<Embedded> {
  const store = new ImageStore(new Layout(job.dataDir));
  const used: TrainingImageRef[] = [];
  let grid: { h: number; w: number } | null = null;
  let crop: ImageGeometry | null = null;
  let dim = 0;
  const total = job.images.length;
  progress('embedding', 0, total);
  const choice = await decideTurns({
    setting: job.config.trainRotations,
    align: job.config.align,
    photos: total,
    prepare: (i) => preparePhoto(store, i, 'none'),
    turnsFit: job.turnsFit,
  });
  // Each photo's views are spilled one after another (photo-major, as `TrainingFeatures` reads them).
  const turns = viewTurns(choice.learned);
  for (let start = 0; start < total; start += job.batch) {
    checkCancelled();
    const prepared: PreparedImage[] = [];
    const refs: TrainingImageRef[] = [];
    for (let i = start; i < Math.min(total, start + job.batch); i++) {
      // A photo that is gone or unreadable is left out: the bank is built from the others.
      const img = await preparePhoto(store, i);
      if (img === null) continue;
      prepared.push(img);
      refs.push({ id: job.images[i].id, filename: job.images[i].filename });
    }
    // Outside the per-photo try: a turn these frames cannot take fails the build with its reason.
    const views = prepared.flatMap((p) => turns.map((t) => turnPrepared(p, t)));
    const feats = views.length ? await backbone.embed(views) : [];
    for (const [i, f] of feats.entries()) {
      const k = Math.floor(i / turns.length);
      if (grid === null) {
        grid = f.grid;
        dim = f.dim;
        crop = prepared[k].geometry;
      } else if (f.grid.h !== grid.h || f.grid.w !== grid.w) {
        throw appError('UNPROCESSABLE', [
          `training images give different patch grids (${grid.h}×${grid.w} and ${f.grid.h}×${f.grid.w}); set "crop" or upload images of one size`,
        ]);
      }
      await spill.append(f.data);
      if (i % turns.length === turns.length - 1) used.push(refs[k]);
    }
    progress('embedding', Math.min(total, start + job.batch), total);
  }
  if (used.length < job.minTrainImages) throw appError('TOO_FEW_IMAGES', [job.minTrainImages, used.length]);
  const g = crop as ImageGeometry | null;
  const V = turns.length;
  return {
    features: { count: used.length, views: V, grid: grid!, dim, read: (b, v = 0) => spill.read(b * V + v), resident: false },
    used,
    crop: { width: g!.cropWidth, height: g!.cropHeight },
    turns: choice,
  };
}

async function run(): Promise<StagedBank> {
  const spill = await FeatureSpill.create(new Layout(job.dataDir), job.line, job.buildId);
  try {
    return await buildFrom(spill);
  } finally {
    await spill.remove();
  }
}

async function buildFrom(spill: FeatureSpill): Promise<StagedBank> {
  const backbone = await loadBackbone(job.backboneDir, { threads: job.threads, verify: false });
  let embedded: Embedded;
  try {
    embedded = await embedAll(backbone, spill);
  } finally {
    // Not needed past embedding: release its memory before the bank is built.
    await backbone.close();
  }
  const { features, used, crop, turns } = embedded;
  const built = await buildBankSet(features, job.engineConfig, {
    signal: abort.signal,
    maxBytes: job.maxBankBytes,
    threads: job.threads,
    onProgress: (p) => progress(p.stage, p.done, p.total),
  });
  checkCancelled();

  progress('calibrating', 0, features.count);
  // Calibration picks the suspects (by the line's evidence) and leaves them out of the threshold.
  const cal = await calibrate({
    bankSet: built.bankSet,
    features,
    noise: built.noise,
    rules: decisionRulesFor(job.config),
    mapSize: { h: crop.height, w: crop.width },
    blurSigma: job.engineConfig.blurSigma,
    onProgress: (done, total) => progress('calibrating', done, total),
    signal: abort.signal,
    threads: job.threads,
    // `excludeSuspects`: the coreset again, its picks counted in the calibrating stage's steps.
    rebuild: (without, onPicks, how) =>
      built.rebuildWithout(without, { how, signal: abort.signal, onProgress: (p) => onPicks(p.done, p.total) }),
  });
  const suspects = new Set(cal.suspects.suspects);
  // The report shows the evidence the suspects were chosen by (scores against the built bank).
  const entries = noiseReportEntries(built.noise, used, cal.suspectScores, suspects, new Set(cal.excluded), job.config.suspectEvidence);
  const scale = colorScale(cal.pixelMedian, cal.threshold);

  progress('writing', 0, 1);
  // Under `excludeSuspects` chosen again without the suspects' patches.
  const bankSet = cal.bankSet;
  const store = new BankStore(new Layout(job.dataDir));
  const dir = await store.stage(job.line, {
    meta: {
      format: 1,
      line: job.line,
      buildId: job.buildId,
      createdAt: new Date().toISOString(),
      method: bankSet.method,
      config: job.config,
      turns,
      engineConfig: { ...job.engineConfig },
      backbone: { id: backbone.id, sha256: backbone.sha256 },
      grid: bankSet.grid,
      dim: features.dim,
      rows: { cls: bankSet.cls.rows, seg: bankSet.seg ? bankSet.seg.rows : null },
      trainingImages: used.map((u) => u.id),
      calibration: {
        imageScores: cal.scores,
        excluded: cal.excluded.map((b) => used[b].id),
        median: cal.median,
        spread: cal.spread,
        sensitivity: cal.sensitivity,
        tail: {
          location: cal.tail.location,
          scale: cal.tail.scale,
          falseAlarmRate: cal.tail.falseAlarmRate,
          threshold: cal.tail.threshold,
          bootstrap: cal.tail.bootstrap,
        },
        rule: cal.rule,
        basis: cal.basis,
        threshold: cal.threshold,
        pixelMedian: cal.pixelMedian,
      },
      threshold: cal.threshold,
      colorScale: { lo: scale.lo, hi: scale.hi, colormap: COLORMAP },
    },
    bankSet,
    noiseReport: noiseReport(job.line, job.buildId, job.config, entries, cal.suspects),
    removed: built.removed,
  });
  progress('writing', 1, 1);
  clock.finish();
  return {
    dir,
    method: bankSet.method,
    rows: bankSet.cls.rows + (bankSet.seg?.rows ?? 0),
    threshold: cal.threshold,
    images: features.count,
    suspects: suspects.size,
  };
}

run().then(
  (bank) => post({ type: 'staged', bank }),
  (err: unknown) => {
    clock.finish();
    const known = catalogued(err);
    const error = known
      ? { code: known.code, message: known.message, ...(known.details ? { details: known.details } : {}) }
      : { code: 'internal', message: err instanceof Error ? err.message : String(err) };
    post({ type: 'failed', error: abort.signal.aborted ? { code: 'cancelled', message: 'The build was cancelled' } : error });
  },
);
