/**
 * Pose-tolerant discriminators, fast version of `window-reference.ts`: per position one float32
 * Gemm of the B patches against the B·|W| patches of its window (onnxruntime, TopK inside the
 * graph). It asks for k + |W| candidates so that the query's own photo (at most |W| of them) can
 * be dropped, recomputes the kept distances in float64 (the same sums as the reference) and
 * orders them by distance then index. Only float32 near-ties can pick other neighbours than the
 * reference.
 */
import { bankTensors, DEFAULT_THREADS, gemmTopK } from '../kernels/ort.js';
import type { DiscriminatorOptions, PatchSet } from './discriminators.js';
import { type WindowNeighbours, windowPositions, windowScores } from './window-reference.js';

export { windowPositions, windowScores, type WindowNeighbours } from './window-reference.js';

export interface WindowOptions {
  threads?: number;
  /** Called after each block of positions; may throw to cancel. */
  onPositions?: (done: number) => Promise<void>;
}

const POSITIONS_PER_STEP = 16;

export async function windowNeighbours(
  set: PatchSet,
  grid: { h: number; w: number },
  r: number,
  k: number,
  opts: WindowOptions = {},
): Promise<WindowNeighbours> {
  const B = set.images.length;
  const P = set.patches;
  const { dim } = set;
  const kk = Math.max(1, Math.min(k, B - 1));
  const index = new Int32Array(B * P * kk);
  const dist = new Float64Array(B * P * kk);
  const queries = new Float32Array(B * dim);
  const threads = opts.threads ?? DEFAULT_THREADS;
  for (let p = 0; p < P; p++) {
    const win = windowPositions(p, grid, r);
    const rows = B * win.length;
    // Candidate row j = c·|W| + i is patch (photo c, position win[i]): ascending global index.
    const cand = new Float32Array(rows * dim);
    const norm2 = new Float32Array(rows);
    for (let c = 0; c < B; c++) {
      const img = set.images[c];
      for (let i = 0; i < win.length; i++) {
        const j = c * win.length + i;
        cand.set(img.subarray(win[i] * dim, (win[i] + 1) * dim), j * dim);
        let s = 0;
        for (let t = 0; t < dim; t++) s += cand[j * dim + t] * cand[j * dim + t];
        norm2[j] = s;
      }
    }
    for (let b = 0; b < B; b++) queries.set(set.images[b].subarray(p * dim, (p + 1) * dim), b * dim);
    const want = Math.min(rows, kk + win.length);
    const top = await gemmTopK(bankTensors(cand, rows, dim), norm2, queries, B, want, threads);
    for (let b = 0; b < B; b++) {
      const found: { n: number; d: number }[] = [];
      for (let t = 0; t < want; t++) {
        const j = Number(top.indices[b * want + t]);
        const c = Math.floor(j / win.length);
        if (c === b) continue;
        const q = win[j - c * win.length];
        let s = 0;
        for (let e = 0; e < dim; e++) {
          const u = queries[b * dim + e] - cand[j * dim + e];
          s += u * u;
        }
        // Float32 inputs promoted to float64, as the reference reads them.
        found.push({ n: c * P + q, d: Math.sqrt(s) });
      }
      found.sort((u, v) => u.d - v.d || u.n - v.n);
      const base = (b * P + p) * kk;
      for (let i = 0; i < kk; i++) {
        index[base + i] = found[i].n;
        dist[base + i] = found[i].d;
      }
    }
    if (opts.onPositions && ((p + 1) % POSITIONS_PER_STEP === 0 || p + 1 === P)) await opts.onPositions(p + 1);
  }
  return { k: kk, index, dist };
}

/** LOF and nearest scores of every patch over its window (`discriminatorWindow` r). */
export async function windowDiscriminate(
  set: PatchSet,
  grid: { h: number; w: number },
  r: number,
  opts: DiscriminatorOptions & WindowOptions,
): Promise<{ lof: Float64Array; nearest: Float64Array }> {
  return windowScores(await windowNeighbours(set, grid, r, opts.lofK, opts), opts);
}
