/**
 * `softpatch bench engine`: the build path's speed on seeded synthetic features of a real build's
 * shape (default 200 images × 784 patches × 1024 dims): projection, LOF discrimination, the fast
 * coreset against the plain reference loop, and nearest-row search in the resulting bank. The
 * features come from the search benchmark's generator (clusters with a few latent directions and a
 * decaying spectrum), so the coreset's pruning behaves roughly as on real features.
 */
import { greedyCoreset } from '../engine/coreset.js';
import { drawStartPoints } from '../engine/coreset-metric.js';
import { greedyCoresetReference } from '../engine/coreset-reference.js';
import { discriminate } from '../engine/discriminators.js';
import { Projector, drawProjection } from '../engine/projection.js';
import { createRng } from '../engine/random.js';
import { removeOutliers } from '../engine/removal.js';
import { clusteredData } from '../engine/search-bench.js';
import { nearestRows, nearestRowsGemm } from '../engine/search.js';

export interface EngineBenchOptions {
  images: number;
  patches: number;
  dim: number;
  seed: number;
  ratio: number;
}

/** Reference picks actually run; the full loop (~10 min at the default size) is extrapolated. */
const REFERENCE_PICKS = 200;
const PROJECTION_DIM = 128;

async function timed<T>(fn: () => Promise<T> | T): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, ms: Math.round(performance.now() - t) };
}

export async function benchEngine(opts: EngineBenchOptions): Promise<Record<string, unknown>> {
  const { images, patches, dim, seed, ratio } = opts;
  const n = images * patches;
  const data = clusteredData({ rows: n, queries: patches, dim, seed, clusters: 300, images });
  const x = data.bank.features;
  const perImage = Array.from({ length: images }, (_, b) => x.subarray(b * patches * dim, (b + 1) * patches * dim));

  const rng = createRng(seed);
  const rDisc = drawProjection(rng, PROJECTION_DIM, dim);
  const rCore = drawProjection(rng, PROJECTION_DIM, dim);
  const starts = drawStartPoints(rng, n, 10);
  const zDisc = new Float32Array(n * PROJECTION_DIM);
  const yCore = new Float32Array(new SharedArrayBuffer(n * PROJECTION_DIM * 4));
  const projector = new Projector([rDisc, rCore], dim);
  const projection = await timed(async () => {
    for (let b = 0; b < images; b++) await projector.project(perImage[b], patches, [zDisc, yCore], b * patches);
  });

  const set = { images: perImage.map((_, b) => zDisc.subarray(b * patches * PROJECTION_DIM, (b + 1) * patches * PROJECTION_DIM)), patches, dim: PROJECTION_DIM };
  const lof = await timed(() => discriminate(set, ['lof'], { lofK: 6, lofScoreCap: null }).get('lof')!);
  const { keep } = removeOutliers(lof.value, 0.15);

  const picks = Math.max(1, Math.floor(ratio * n));
  const input = { y: yCore, count: n, dim: PROJECTION_DIM, keep, picks, startPoints: starts, firstPickRespectsMask: false };
  const fast = await timed(() => greedyCoreset(input));
  const refPicks = Math.min(REFERENCE_PICKS, picks);
  const reference = await timed(() => greedyCoresetReference({ ...input, picks: refPicks }));
  const sameSelection = reference.value.every((c, i) => c === fast.value.selected[i]);

  const bankFeatures = new Float32Array(picks * dim);
  fast.value.selected.forEach((c, m) => bankFeatures.set(x.subarray(c * dim, (c + 1) * dim), m * dim));
  const bank = { features: bankFeatures, rows: picks, dim };
  // First calls build the searchers (sessions, projected index); time the second.
  await nearestRowsGemm(bank, data.queries, data.nq);
  await nearestRows(bank, data.queries, data.nq);
  const gemm = await timed(() => nearestRowsGemm(bank, data.queries, data.nq));
  const fastSearch = await timed(() => nearestRows(bank, data.queries, data.nq));
  let agree = 0;
  for (let q = 0; q < data.nq; q++) if (gemm.value.index[q] === fastSearch.value.index[q]) agree++;

  return {
    benchmark: 'engine',
    images,
    patches,
    dim,
    seed,
    projectionMs: projection.ms,
    discrimination: { method: 'lof', ms: lof.ms },
    coreset: {
      ratio,
      selected: picks,
      fastMs: fast.ms,
      threads: fast.value.threads,
      distanceShare: +(fast.value.counters.pointDistances / (n * picks)).toPrecision(3),
      referenceMs: Math.round((reference.ms / refPicks) * picks),
      referenceExtrapolated: refPicks < picks,
      referencePicks: refPicks,
      sameSelection,
    },
    search: { queries: data.nq, bankRows: picks, exactGemmMs: gemm.ms, fastMs: fastSearch.ms, top1Agreement: agree / data.nq },
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}
