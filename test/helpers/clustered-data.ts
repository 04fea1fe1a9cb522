/**
 * Benchmark of the nearest-row searchers on seeded synthetic data, and the data generator the
 * search tests share. The data imitate patch features: clusters (object parts) around a positive
 * mean, each varying along a few latent directions (pose, texture), plus noise with a decaying
 * per-dimension spread (CNN features concentrate their variance in few directions; `decay` sets
 * how fast, 0 = isotropic), and a few anomalous queries with much more noise. How much the fast
 * searcher gains depends on that spectrum, so measure real banks too.
 */
import { createRng, normalSampler } from '../../src/engine/kernels/index.js';
import { createSearcher, nearestRowsReference, type SearchBank, type SearchStats } from '../../src/engine/search/index.js';
import { median } from '../../src/common/stats.js';

export interface ClusteredDataOptions {
  rows: number;
  queries: number;
  dim: number;
  seed: number;
  clusters?: number;
  /** dimensions of the variation within a cluster (default 8) */
  latentDim?: number;
  /** variance of dimension j ∝ (1 + j)^−decay (default 1) */
  decay?: number;
  /** training images the rows are spread over (sourceImage = row mod images; default 20) */
  images?: number;
  /** share of queries drawn far from the clusters (default 0.05) */
  anomalous?: number;
}

export interface ClusteredData {
  bank: SearchBank & { sourceImage: Int32Array };
  queries: Float32Array;
  nq: number;
}

/** Spread of the per-dimension noise around a cluster's latent plane, for normal and anomalous rows. */
const NOISE = 0.25;
const ANOMALY_NOISE = 1.5;

export function clusteredData(opts: ClusteredDataOptions): ClusteredData {
  const { rows, dim } = opts;
  const nq = opts.queries;
  const clusters = opts.clusters ?? 64;
  const latent = opts.latentDim ?? 8;
  const decay = opts.decay ?? 1;
  const images = opts.images ?? 20;
  const anomalous = opts.anomalous ?? 0.05;
  const rng = createRng(opts.seed);
  const normal = normalSampler(rng);
  const scale = Float64Array.from({ length: dim }, (_, j) => Math.pow(1 + j, -decay / 2));
  const centres = new Float64Array(clusters * dim);
  for (let c = 0; c < clusters; c++) for (let j = 0; j < dim; j++) centres[c * dim + j] = scale[j] * (1.5 + 2 * normal());
  // Column k of cluster c's factor matrix: axes[(c·latent + k)·dim + j].
  const axes = new Float64Array(clusters * latent * dim);
  for (let i = 0; i < axes.length; i++) axes[i] = scale[i % dim] * normal();
  const z = new Float64Array(latent);
  const draw = (out: Float32Array, r: number, noise: number): void => {
    const c = rng.int(clusters);
    for (let k = 0; k < latent; k++) z[k] = normal();
    for (let j = 0; j < dim; j++) {
      let v = centres[c * dim + j] + noise * scale[j] * normal();
      for (let k = 0; k < latent; k++) v += z[k] * axes[(c * latent + k) * dim + j];
      out[r * dim + j] = v;
    }
  };
  const features = new Float32Array(rows * dim);
  const sourceImage = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    draw(features, r, NOISE);
    sourceImage[r] = r % images;
  }
  const queries = new Float32Array(nq * dim);
  for (let q = 0; q < nq; q++) draw(queries, q, rng.next() < anomalous ? ANOMALY_NOISE : NOISE);
  return { bank: { features, rows, dim, sourceImage }, queries, nq };
}

export interface SearchBenchOptions {
  queries: number;
  bankRows: number;
  dim: number;
  seed: number;
  /** timed runs after one warm-up run (default 5) */
  runs?: number;
  threads?: number;
  decay?: number;
  /** also time the float64 reference once and check the fast answers against it */
  reference?: boolean;
}

export interface SearchBenchResult {
  queries: number;
  bankRows: number;
  dim: number;
  /** median wall-clock ms per batch */
  exactGemmMs: number;
  fastMs: number;
  /** median CPU ms per batch, all threads (steadier than wall time on a shared machine) */
  exactGemmCpuMs: number;
  fastCpuMs: number;
  /** one-off cost of building the fast searcher */
  fastSetupMs: number;
  /** share of queries where the fast and the Gemm searcher chose the same row */
  top1Agreement: number;
  fastStats: SearchStats;
  referenceMs?: number;
  /** share of queries where the fast searcher matched the reference's row and distance exactly */
  fastReferenceAgreement?: number;
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

export async function benchSearch(opts: SearchBenchOptions): Promise<SearchBenchResult> {
  const { bank, queries, nq } = clusteredData({
    rows: opts.bankRows,
    queries: opts.queries,
    dim: opts.dim,
    seed: opts.seed,
    decay: opts.decay,
  });
  const runs = opts.runs ?? 5;
  const gemm = await createSearcher(bank, { kind: 'gemm', threads: opts.threads });
  let t = performance.now();
  const fast = await createSearcher(bank, { kind: 'fast', threads: opts.threads });
  const fastSetupMs = performance.now() - t;

  let gemmResult = await gemm.nearest(queries, nq);
  let fastResult = await fast.nearest(queries, nq);
  const gemmMs: number[] = [];
  const fastMs: number[] = [];
  const gemmCpu: number[] = [];
  const fastCpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    let cpu = process.cpuUsage();
    t = performance.now();
    gemmResult = await gemm.nearest(queries, nq);
    gemmMs.push(performance.now() - t);
    gemmCpu.push(cpuMs(cpu));
    cpu = process.cpuUsage();
    t = performance.now();
    fastResult = await fast.nearest(queries, nq);
    fastMs.push(performance.now() - t);
    fastCpu.push(cpuMs(cpu));
  }
  let agree = 0;
  for (let q = 0; q < nq; q++) if (gemmResult.index[q] === fastResult.index[q]) agree++;
  const result: SearchBenchResult = {
    queries: nq,
    bankRows: bank.rows,
    dim: bank.dim,
    exactGemmMs: median(gemmMs),
    fastMs: median(fastMs),
    exactGemmCpuMs: median(gemmCpu),
    fastCpuMs: median(fastCpu),
    fastSetupMs,
    top1Agreement: agree / Math.max(1, nq),
    fastStats: fast.stats(),
  };
  if (opts.reference === true) {
    t = performance.now();
    const ref = nearestRowsReference(bank, queries, nq);
    result.referenceMs = performance.now() - t;
    let same = 0;
    for (let q = 0; q < nq; q++) if (ref.index[q] === fastResult.index[q] && ref.dist2[q] === fastResult.dist2[q]) same++;
    result.fastReferenceAgreement = same / Math.max(1, nq);
  }
  gemm.release();
  fast.release();
  return result;
}
