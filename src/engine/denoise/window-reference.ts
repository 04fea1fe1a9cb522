/**
 * Plain reference of the pose-tolerant discriminators (`discriminatorWindow` r > 0): every patch
 * is compared with the patches of the other photos at all positions within Chebyshev distance r
 * of its own (the window is clipped at the grid border), instead of only the same position. Then
 * LOF and nearest as in spec §4.2, over that neighbourhood. With r = 0 this is exactly the spec's
 * per-position discriminator. `window.ts` is the fast version; the tests compare the two.
 */
import type { DiscriminatorOptions, PatchSet } from './discriminators.js';

/** Positions within Chebyshev distance `r` of `p` on an `h × w` grid, ascending. */
export function windowPositions(p: number, grid: { h: number; w: number }, r: number): number[] {
  const y = Math.floor(p / grid.w);
  const x = p - y * grid.w;
  const out: number[] = [];
  for (let yy = Math.max(0, y - r); yy <= Math.min(grid.h - 1, y + r); yy++) {
    for (let xx = Math.max(0, x - r); xx <= Math.min(grid.w - 1, x + r); xx++) out.push(yy * grid.w + xx);
  }
  return out;
}

function patchDistance(set: PatchSet, b: number, p: number, c: number, q: number): number {
  const { dim } = set;
  const x = set.images[b];
  const y = set.images[c];
  let s = 0;
  for (let k = 0; k < dim; k++) {
    const t = x[p * dim + k] - y[q * dim + k];
    s += t * t;
  }
  return Math.sqrt(s);
}

/** The k nearest window neighbours of every patch (global index n = b·P + p), ascending by distance then index. */
export interface WindowNeighbours {
  k: number;
  index: Int32Array;
  dist: Float64Array;
}

export function windowNeighboursReference(set: PatchSet, grid: { h: number; w: number }, r: number, k: number): WindowNeighbours {
  const B = set.images.length;
  const P = set.patches;
  const kk = Math.max(1, Math.min(k, B - 1));
  const index = new Int32Array(B * P * kk);
  const dist = new Float64Array(B * P * kk);
  for (let p = 0; p < P; p++) {
    const win = windowPositions(p, grid, r);
    for (let b = 0; b < B; b++) {
      const cands: { n: number; d: number }[] = [];
      for (let c = 0; c < B; c++) {
        if (c === b) continue;
        for (const q of win) cands.push({ n: c * P + q, d: patchDistance(set, b, p, c, q) });
      }
      cands.sort((u, v) => u.d - v.d || u.n - v.n);
      const base = (b * P + p) * kk;
      for (let i = 0; i < kk; i++) {
        index[base + i] = cands[i].n;
        dist[base + i] = cands[i].d;
      }
    }
  }
  return { k: kk, index, dist };
}

/** LOF (scikit-learn semantics) and nearest (+1) scores from the window neighbour lists. */
export function windowScores(nb: WindowNeighbours, opts: DiscriminatorOptions): { lof: Float64Array; nearest: Float64Array } {
  const { k, index, dist } = nb;
  const N = index.length / k;
  const lrd = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let sum = 0;
    for (let i = 0; i < k; i++) {
      const o = index[n * k + i];
      sum += Math.max(dist[n * k + i], dist[o * k + k - 1]);
    }
    lrd[n] = 1 / (sum / k + 1e-10);
  }
  const lof = new Float64Array(N);
  const nearest = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let sum = 0;
    for (let i = 0; i < k; i++) sum += lrd[index[n * k + i]] / lrd[n];
    const v = sum / k;
    lof[n] = opts.lofScoreCap === null ? v : Math.min(v, opts.lofScoreCap);
    nearest[n] = dist[n * k] + 1;
  }
  return { lof, nearest };
}
