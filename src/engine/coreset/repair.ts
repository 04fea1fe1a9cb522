/**
 * The coreset of fewer rows from a finished run over more (`excludeSuspects` with `suspectRebuild:
 * 'repair'`): the run's picks that the new mask still allows, in their order, then spec §5's loop
 * until there are `picks` again (`repairCoresetReference`). A fresh run over the smaller set picks
 * the same rows only until the first pick of a removed row, then drifts apart (on bottle a third of
 * the rows differ once four photos are left out); this one keeps the run's work instead.
 *
 * Most rows keep the run's δ bit for bit: δ is a minimum over the picks, and their closest pick is
 * still there. Only an orphan, whose closest pick is gone, needs its δ again: its nearest kept picks
 * by one matrix product (float32, onnxruntime), then the spec's float32 distance to every pick
 * within that product's error bound of the nearest. The picks added after the run's are the
 * coreset's own loop, pruned as in `partition.ts` by the triangle inequality around each row's
 * closest pick. Both shortcuts only skip distances a bound proves cannot win, so the picks equal
 * the reference's.
 */
import { appError } from '../../common/errors.js';
import { bankTensors, gemmTopK } from '../kernels/ort.js';
import { type CoresetInput, coresetDistance, coresetDistances4, squaredNorms, startDistances } from './metric.js';
import type { CoresetState } from './partition.js';

/** What a finished run leaves (`CoresetResult`). */
export interface FinishedRun {
  selected: Int32Array;
  state: CoresetState;
}

export interface RepairResult {
  selected: Int32Array;
  /** Rows whose closest pick was removed, and picks added after the run's. */
  orphans: number;
  added: number;
}

const U = 2 ** -24;
/** Orphans per matrix product: the keys are orphans × picks floats. */
const ORPHAN_CHUNK = 256;
/** Nearest picks per orphan from the product; more are read exactly only when all of them tie within the bound. */
const NEAREST = 16;

/** The picks of `run` that `keep` allows, in their order, at most `picks` of them. */
export function keptPicks(run: FinishedRun, keep: Uint8Array, picks: number): Int32Array {
  const kept = run.selected.filter((r) => keep[r] !== 0);
  return kept.length > picks ? kept.slice(0, picks) : kept;
}

function checkRepair(input: CoresetInput, run: FinishedRun): void {
  const { count, keep } = input;
  if (run.state.delta.length !== count || run.state.centre.length !== count)
    throw appError('ENGINE_INPUT', [`the run's state holds ${run.state.delta.length} rows, expected ${count}`]);
  for (let n = 0; n < count; n++) {
    // A row the run had removed has no δ of its own to keep.
    if (keep[n] !== 0 && run.state.centre[n] === -2) throw appError('ENGINE_INPUT', [`row ${n} was removed in the run but is kept now`]);
  }
}

/** Rows' δ and closest pick (an ordinal of `picks`, −1: none, δ is the start distance). */
interface Coverage {
  delta: Float32Array;
  centre: Int32Array;
}

export async function repairCoreset(input: CoresetInput, run: FinishedRun, threads = 1): Promise<RepairResult> {
  checkRepair(input, run);
  const { count, keep, picks } = input;
  const norms = squaredNorms(input.y, count, input.dim);
  const kept = keptPicks(run, keep, picks);
  const ordinal = new Int32Array(run.selected.length).fill(-1);
  const keptAt = new Map<number, number>();
  kept.forEach((r, t) => keptAt.set(r, t));
  run.selected.forEach((r, t) => (ordinal[t] = keptAt.get(r) ?? -1));
  const cover: Coverage = { delta: new Float32Array(count), centre: new Int32Array(count).fill(-1) };
  const orphans: number[] = [];
  for (let n = 0; n < count; n++) {
    if (keep[n] === 0) continue;
    const c = run.state.centre[n];
    if (c >= 0 && ordinal[c] < 0) {
      orphans.push(n);
      continue;
    }
    cover.delta[n] = run.state.delta[n];
    cover.centre[n] = c < 0 ? -1 : ordinal[c];
  }
  await coverOrphans(input, norms, kept, orphans, cover, threads);
  const selected = new Int32Array(picks);
  selected.set(kept);
  topUp(input, norms, selected, kept.length, cover);
  return { selected, orphans: orphans.length, added: picks - kept.length };
}

/** Largest squared norm: the scale of every rounding bound. */
function maxNorm(norms: Float32Array): number {
  let m = 0;
  for (const v of norms) if (v > m) m = v;
  return m;
}

/**
 * Each orphan's δ = min(start distance, distance to the nearest kept pick). The product's squared
 * distance of a pair is within A = 2(d + 4)·u·N* of the true one (float32 norms, dot and key), and
 * the spec's formula within ε² = 16·u·N*; so the formula's nearest pick has a product key within
 * 2A + 2ε² (and a relative 1e-6) of the smallest key, and only those are read exactly.
 */
async function coverOrphans(
  input: CoresetInput,
  norms: Float32Array,
  kept: Int32Array,
  orphans: number[],
  cover: Coverage,
  threads: number,
): Promise<void> {
  if (orphans.length === 0) return;
  const { y, dim } = input;
  const K = kept.length;
  const start = (n: number): number => startDistances(input, norms, n, n + 1)[0];
  if (K === 0) {
    for (const n of orphans) cover.delta[n] = start(n);
    return;
  }
  const nStar = maxNorm(norms);
  const margin = (4 * (dim + 4) + 32) * U * nStar;
  const rows = new Float32Array(K * dim);
  const keptNorms = new Float32Array(K);
  kept.forEach((r, t) => {
    rows.set(y.subarray(r * dim, (r + 1) * dim), t * dim);
    keptNorms[t] = norms[r];
  });
  const bank = bankTensors(rows, K, dim);
  const k = Math.min(NEAREST, K);
  const queries = new Float32Array(ORPHAN_CHUNK * dim);
  for (let from = 0; from < orphans.length; from += ORPHAN_CHUNK) {
    const chunk = orphans.slice(from, from + ORPHAN_CHUNK);
    chunk.forEach((n, i) => queries.set(y.subarray(n * dim, (n + 1) * dim), i * dim));
    const { values, indices } = await gemmTopK(bank, keptNorms, queries, chunk.length, k, threads);
    chunk.forEach((n, i) => {
      let best = start(n);
      let centre = -1;
      const consider = (t: number): void => {
        const d = coresetDistance(y, norms, n, kept[t], dim);
        if (d < best) {
          best = d;
          centre = t;
        }
      };
      const smallest = values[i * k];
      const limit = smallest + margin + 1e-6 * Math.abs(smallest + norms[n]);
      if (values[i * k + k - 1] <= limit && k < K) {
        // Every returned key ties within the bound: the next ones might too.
        for (let t = 0; t < K; t++) consider(t);
      } else {
        for (let j = 0; j < k && values[i * k + j] <= limit; j++) consider(Number(indices[i * k + j]));
      }
      cover.delta[n] = best;
      cover.centre[n] = centre;
    });
  }
}

/**
 * Spec §5's loop from the picks `selected[0 .. from)` to `selected.length`. A row n whose closest
 * pick c has D(x, c)² ≥ 4.000004·δ_n² + 5ε² (x the new pick, D the float32 formula) cannot get
 * closer to x: that is the partition's test 2 (`partition.ts`), with one more ε² for computing
 * D(x, c) by the formula instead of exactly; a group whose largest δ passes it is skipped whole.
 */
function topUp(input: CoresetInput, norms: Float32Array, selected: Int32Array, from: number, cover: Coverage): void {
  const { y, dim, keep, count } = input;
  const picks = selected.length;
  if (from >= picks) return;
  const { delta, centre } = cover;
  const eps2 = 16 * U * maxNorm(norms);
  const bound = (d: number): number => 4.000004 * d * d + 5 * eps2;
  // Rows by closest pick (a row that moves is listed again under its new pick; stale entries are skipped).
  const groups: number[][] = Array.from({ length: picks }, () => []);
  const loose: number[] = [];
  const groupMax = new Float32Array(picks);
  for (let n = 0; n < count; n++) {
    if (keep[n] === 0) continue;
    const c = centre[n];
    if (c < 0) loose.push(n);
    else {
      groups[c].push(n);
      if (delta[n] > groupMax[c]) groupMax[c] = delta[n];
    }
  }
  const pickDist = new Float32Array(picks + 4);
  const slots = new Int32Array(picks + 4);
  const pending = new Int32Array(count + 4);
  const pendingDist = new Float32Array(count + 4);
  const rows = (list: Int32Array, n: number, x: number, out: Float32Array): void => {
    for (let i = n; i % 4 !== 0; i++) list[i] = list[n - 1];
    for (let i = 0; i < n; i += 4) coresetDistances4(y, norms, list, i, y, x, norms[x], dim, out);
  };
  for (let t = from; t < picks; t++) {
    let x = 0;
    for (let n = 1; n < count; n++) if (delta[n] > delta[x]) x = n;
    selected[t] = x;
    if (t > 0) {
      slots.set(selected.subarray(0, t));
      rows(slots, t, x, pickDist);
    }
    let waiting = 0;
    for (let c = 0; c < t; c++) {
      const dc = pickDist[c];
      if (dc * dc >= bound(groupMax[c])) continue;
      for (const n of groups[c]) if (centre[n] === c && dc * dc < bound(delta[n])) pending[waiting++] = n;
    }
    for (const n of loose) if (centre[n] < 0) pending[waiting++] = n;
    if (waiting > 0) rows(pending, waiting, x, pendingDist);
    for (let i = 0; i < waiting; i++) {
      const n = pending[i];
      if (pendingDist[i] < delta[n]) {
        delta[n] = pendingDist[i];
        centre[n] = t;
        groups[t].push(n);
        if (delta[n] > groupMax[t]) groupMax[t] = delta[n];
      }
    }
  }
}
