/**
 * The coreset of fewer rows from a finished run over more (`excludeSuspects` with `suspectRebuild:
 * 'repair'`): the run's first `picks` picks, those of them that the new mask still allows, then
 * spec §5's loop until there are `picks` again (`repairCoresetReference`): every removed pick is
 * replaced by the row then farthest from the bank. A fresh run over the smaller set picks
 * the same rows only until the first pick of a removed row, then drifts apart (on bottle a third of
 * the rows differ once four photos are left out); this one keeps the run's work instead.
 *
 * Most rows keep the run's δ bit for bit: δ is a minimum over the picks, and their closest pick is
 * still there. Only an orphan, whose closest pick is gone, needs its δ again: its nearest kept picks
 * by one matrix product (float32, onnxruntime), then the spec's float32 distance to every pick
 * within that product's error bound of the nearest. The picks added after the run's are the
 * coreset's own loop, pruned by the run's own proofs (`partition.ts`, its basis and margins).
 * Both shortcuts only skip distances a bound proves cannot win, so the picks equal the reference's.
 */
import { appError } from '../../common/errors.js';
import { bankTensors, gemmTopK } from '../kernels/ort.js';
import { GroupScan } from '../kernels/group-scan.js';
import { type CoresetInput, coresetDistance, coresetDistances4, startDistances } from './metric.js';
import { type CoresetBounds, type CoresetState, groupThresholds, triangleThreshold } from './partition.js';

/** What a finished run leaves (`CoresetResult`). */
export interface FinishedRun {
  selected: Int32Array;
  state: CoresetState;
  bounds: CoresetBounds;
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
  const { norms } = run.bounds;
  // The run's first `picks` picks (a greedy run's prefix is the greedy coreset of that size) that
  // `keep` still allows, in their order; each run ordinal's place among them (−1: gone).
  const ordinal = new Int32Array(run.selected.length).fill(-1);
  const keptRows: number[] = [];
  run.selected.subarray(0, picks).forEach((r, t) => {
    if (keep[r] !== 0) ordinal[t] = keptRows.push(r) - 1;
  });
  const kept = Int32Array.from(keptRows);
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
  topUp(input, norms, run.bounds, selected, kept.length, cover);
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
 * Spec §5's loop from the picks `selected[0 .. from)` to `selected.length`, pruned by the run's
 * proofs (`partition.ts`): the kept picks are the groups' centres, each row is in the group of its
 * closest pick, and the scan kernel finds the groups a new pick x may take rows from (test 1: a
 * lower bound of ‖x − c‖², on the basis, then exact); of those, a row moves only if it fails
 * test 2 with its own δ. Groups keep their largest δ as rows leave (a bound that only loosens).
 */
function topUp(input: CoresetInput, norms: Float32Array, bounds: CoresetBounds, selected: Int32Array, from: number, cover: Coverage): void {
  const { y, dim, keep, count } = input;
  const picks = selected.length;
  if (from >= picks) return;
  const { delta, centre } = cover;
  const { eps2, basisSlack } = bounds;
  const scanner = new GroupScan(picks, bounds.basisDim, dim);
  scanner.setBasis(bounds.basis);
  const load = (x: number): void => {
    scanner.project(y, x, x + 1, scanner.pickBasis, 0);
    scanner.setPickRow(y, x);
  };
  // Rows by closest pick (a row that moves is listed again under its new pick; stale entries are skipped).
  const groups: number[][] = Array.from({ length: picks }, () => []);
  const loose: number[] = [];
  const groupMax = new Float64Array(picks).fill(-1);
  for (let n = 0; n < count; n++) {
    if (keep[n] === 0) continue;
    const c = centre[n];
    if (c < 0) loose.push(n);
    else {
      groups[c].push(n);
      if (delta[n] > groupMax[c]) groupMax[c] = delta[n];
    }
  }
  const setThresholds = (t: number): void => {
    const { exact, basis } = groupThresholds(groupMax[t], eps2, basisSlack);
    scanner.exactThresholds[t] = exact;
    scanner.basisThresholds[t] = basis;
  };
  for (let t = 0; t < from; t++) {
    load(selected[t]);
    scanner.storePickAt(t);
    setThresholds(t);
  }
  const pending = new Int32Array(count + 4);
  const distances = new Float32Array(count + 4);
  for (let t = from; t < picks; t++) {
    let x = 0;
    for (let n = 1; n < count; n++) if (delta[n] > delta[x]) x = n;
    selected[t] = x;
    load(x);
    let waiting = 0;
    const passed = scanner.scan(t);
    for (let i = 0; i < passed; i++) {
      const c = scanner.slots[i];
      const lower = scanner.lower[i];
      for (const n of groups[c]) if (centre[n] === c && lower < triangleThreshold(delta[n], eps2)) pending[waiting++] = n;
    }
    for (const n of loose) if (centre[n] < 0) pending[waiting++] = n;
    for (let i = waiting; i % 4 !== 0; i++) pending[i] = pending[waiting - 1];
    for (let i = 0; i < waiting; i += 4) coresetDistances4(y, norms, pending, i, y, x, norms[x], dim, distances);
    for (let i = 0; i < waiting; i++) {
      const n = pending[i];
      if (distances[i] < delta[n]) {
        delta[n] = distances[i];
        centre[n] = t;
        groups[t].push(n);
        if (delta[n] > groupMax[t]) groupMax[t] = delta[n];
      }
    }
    scanner.storePickAt(t);
    setThresholds(t);
  }
}
