/**
 * `softpatch bench engine`: the build path's speed on seeded synthetic features of a real build's
 * shape (default 200 images × 784 patches × 1024 dims): projection, LOF discrimination, the fast
 * coreset against the plain reference loop, and nearest-row search in the resulting bank.
 *
 * The features imitate an image set: each position draws one of a few "parts" out of a few hundred
 * random centres; a part varies along a few directions, plus a little uniform noise; 5 % of the
 * images carry a defect (a random part and much more noise on a block of positions). The low
 * intrinsic dimension matters: the coreset's triangle pruning works on such data as on real
 * features, while isotropic noise in many dimensions (or the search benchmark's generator)
 * defeats it (2-3 % of the distances computed instead of 0.2-0.4 % on real bottle/screw features,
 * 5-10× the time). Measure real features before trusting a number from here.
 */
import { coreset, createRng, denoise, kernels, search } from '../engine/index.js';

const { greedyCoreset, greedyCoresetReference, drawStartPoints } = coreset;
const { discriminate, removeOutliers } = denoise;
const { Projector, drawProjection } = kernels;
const { nearestRows, nearestRowsGemm, nearestRowsReference } = search;

/** Queries also checked against the plain float64 loop (all of them would take minutes). */
const REFERENCE_QUERIES = 64;

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

const CENTRES = 300;
const PARTS_PER_POSITION = 4;
/** Each part varies along a few directions (pose, texture) plus a little isotropic noise. */
const LATENT = 4;
const LATENT_SCALE = 0.05;
const NOISE = 0.1;

/** `images + 1` images of `patches` rows (the last one is the query image). */
function syntheticImages(images: number, patches: number, dim: number, seed: number): Float32Array[] {
  const rng = createRng(seed ^ 0x5bd1e995);
  const centres = Float32Array.from({ length: CENTRES * dim }, () => rng.next());
  const axes = Float32Array.from({ length: CENTRES * LATENT * dim }, () => (rng.next() - 0.5) * LATENT_SCALE);
  const side = Math.max(1, Math.round(Math.sqrt(patches)));
  const defective = Math.max(1, Math.round(images * 0.05));
  const z = new Float32Array(LATENT);
  return Array.from({ length: images + 1 }, (_, b) => {
    const img = new Float32Array(patches * dim);
    const defect = b >= images - defective && b < images;
    const y0 = rng.int(side);
    const x0 = rng.int(side);
    for (let p = 0; p < patches; p++) {
      const inBlock = defect && Math.abs(Math.floor(p / side) - y0) < 3 && Math.abs((p % side) - x0) < 3;
      const c = inBlock ? rng.int(CENTRES) : (((p * 37) % CENTRES) + rng.int(PARTS_PER_POSITION)) % CENTRES;
      const noise = inBlock ? 10 * NOISE : NOISE;
      for (let j = 0; j < LATENT; j++) z[j] = 2 * rng.next() - 1;
      for (let k = 0; k < dim; k++) {
        let v = centres[c * dim + k] + (rng.next() - 0.5) * noise;
        for (let j = 0; j < LATENT; j++) v += z[j] * axes[(c * LATENT + j) * dim + k];
        img[p * dim + k] = v;
      }
    }
    return img;
  });
}

async function timed<T>(fn: () => Promise<T> | T): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, ms: Math.round(performance.now() - t) };
}

export async function benchEngine(opts: EngineBenchOptions): Promise<Record<string, unknown>> {
  const { images, patches, dim, seed, ratio } = opts;
  const n = images * patches;
  const all = syntheticImages(images, patches, dim, seed);
  const query = all.pop()!;
  const perImage = all;

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

  const set = {
    images: perImage.map((_, b) => zDisc.subarray(b * patches * PROJECTION_DIM, (b + 1) * patches * PROJECTION_DIM)),
    patches,
    dim: PROJECTION_DIM,
  };
  const lof = await timed(() => discriminate(set, ['lof'], { lofK: 6, lofScoreCap: null }).get('lof')!);
  const { keep } = removeOutliers(lof.value, 0.15);

  const picks = Math.max(1, Math.floor(ratio * n));
  const input = { y: yCore, count: n, dim: PROJECTION_DIM, keep, picks, startPoints: starts, firstPickRespectsMask: false };
  const fast = await timed(() => greedyCoreset(input));
  const refPicks = Math.min(REFERENCE_PICKS, picks);
  const reference = await timed(() => greedyCoresetReference({ ...input, picks: refPicks }));
  const sameSelection = reference.value.every((c, i) => c === fast.value.selected[i]);

  const bankFeatures = new Float32Array(picks * dim);
  fast.value.selected.forEach((c, m) => {
    const b = Math.floor(c / patches);
    const p = c - b * patches;
    bankFeatures.set(perImage[b].subarray(p * dim, (p + 1) * dim), m * dim);
  });
  const bank = { features: bankFeatures, rows: picks, dim };
  // First calls build the searchers (sessions, projected index); time the second.
  await nearestRowsGemm(bank, query, patches);
  await nearestRows(bank, query, patches);
  const gemm = await timed(() => nearestRowsGemm(bank, query, patches));
  const fastSearch = await timed(() => nearestRows(bank, query, patches));
  let agree = 0;
  for (let q = 0; q < patches; q++) if (gemm.value.index[q] === fastSearch.value.index[q]) agree++;
  const refQueries = Math.min(REFERENCE_QUERIES, patches);
  const ref = nearestRowsReference(bank, query, refQueries);
  let refAgree = 0;
  for (let q = 0; q < refQueries; q++)
    if (ref.index[q] === fastSearch.value.index[q] && ref.dist2[q] === fastSearch.value.dist2[q]) refAgree++;
  // The image score is the largest patch distance (before soft weights).
  const maxOf = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, v), -Infinity);
  const exactScore = maxOf(gemm.value.dist2);

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
      // Ratio against the plain loop measured in this run: stable across machines, unlike ms.
      speedupVsReference: +(((reference.ms / refPicks) * picks) / Math.max(1, fast.ms)).toFixed(1),
    },
    search: {
      queries: patches,
      bankRows: picks,
      exactGemmMs: gemm.ms,
      fastMs: fastSearch.ms,
      top1Agreement: agree / patches,
      imageScoreRelDiff: Math.abs(maxOf(fastSearch.value.dist2) - exactScore) / exactScore,
      referenceQueries: refQueries,
      referenceAgreement: refAgree / refQueries,
      speedupVsExactGemm: +(gemm.ms / Math.max(1, fastSearch.ms)).toFixed(2),
    },
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}
