/**
 * The fast greedy coreset's state for one worker. Its picks are identical to
 * `greedyCoresetReference`: it only skips a distance when a bound proves that the reference's
 * `min` would not change, and every distance it does compute uses the same float32 formula
 * (`metric.ts`), so argmax ties break the same way.
 *
 * Rows are grouped by their *centre*: the pick whose distance is their current δ (δ_n = D(n, centre)
 * bit for bit). Group g (the g-th pick) belongs to worker g mod W, whatever rows it holds; each
 * worker also holds the rows of its own range that have no centre yet. So every pick's work, the
 * scan over the groups and the sweeps of their rows, is split between the workers, not repeated.
 * Rows that a pick takes from their group go to the pick's new group: each worker lists its movers
 * (row, new δ) in the exchange, and after the next barrier the new group's owner gathers them.
 * The lists are double-buffered by pick parity, so a worker writing pick t + 1's never overwrites
 * what the owner of pick t's group is still reading.
 *
 * For a new pick x, three tests, cheapest first, each a proof that D(n, x) ≥ δ_n:
 *  1. group: ‖x − c‖ ≥ 2·r (+ margin), r = the group's largest δ, by the triangle inequality. ‖x − c‖
 *     is bounded from below by the distance of the projections on a few principal directions (an
 *     orthonormal basis can only shorten a vector), then, if that is not enough, computed exactly
 *     in float64;
 *  2. row, same inequality with the row's own δ_n;
 *  3. row, ‖P(y_n − x)‖ ≥ δ_n (+ margin) with the row's stored basis coordinates: 128 bytes read
 *     instead of the row's 512.
 * Only rows that survive all three get the float32 distance: on real features (bottle, N = 156,800,
 * M = 15,680, τ = 0.15) 0.2 % of the N·M distances.
 *
 * Rounding margins. With u = 2⁻²⁴ and N* = max‖y‖², the float32 formula's squared result is within
 * ε² = 16·u·N* of the true squared distance (norms, dot, sum and difference each add at most
 * u·(‖a‖² + ‖b‖²)), and the final sqrt/rounding adds a relative 2u. So D(n, x) ≥ δ_n holds as soon as
 * the true a = ‖y_n − x‖ has a² ≥ δ²(1 + 2.1u) + ε² (test 3). For tests 1-2: with b = true ‖y_n − c‖,
 * b² ≤ δ²(1 + 2.1u) + ε², and a ≥ ‖x − c‖ − b, so ‖x − c‖² ≥ 4·δ²·(1 + 1e−6) + 4·ε² suffices.
 * The centre distance (in the group scan's kernel, `kernels/group-scan.ts`) is a float64 sum of
 * exact squares (float32 differences), within a relative dim·2⁻⁵³ of the true one, far inside the
 * 1e−12 it is shrunk by. Basis coordinates carry float32
 * rounding (rows) or float64 rounding (picks); `basisSlack` = s bounds the resulting error of a
 * basis distance A, and (A − s)² ≥ A²(1 − h) − s²/h with h = 1e−6 turns "A − s ≥ bound" into a
 * test on A² without a square root. The basis sums run four terms at a time (any order of a sum
 * of squares only moves its last bits, far inside those margins).
 */
import { GroupScan, HEAD } from '../kernels/group-scan.js';
import { GroupArena } from './group-arena.js';
import { type CoresetInput, coresetDistances4, startDistances } from './metric.js';

/** Everything the workers share (read-only). */
export interface CoresetShared {
  input: CoresetInput;
  norms: Float32Array;
  /** Orthonormal rows, padded with zero rows to a multiple of `BASIS_BLOCK` (`basisDim × dim`, float64), for the cheap lower bounds. */
  basis: Float64Array;
  basisDim: number;
  /** ε² of the header comment. */
  eps2: number;
  /** Absolute error bound of a distance between basis coordinates (float32 rows included). */
  basisSlack: number;
}

/** What the workers hand each other (SharedArrayBuffers between threads). */
export interface CoresetExchange {
  /** Every row's basis coordinates (`count × basisDim`); each worker fills its own range first. */
  coords: Float32Array;
  /** Movers of a pick: slot (parity·W + w) holds worker w's, `count` entries each. */
  moverRows: Int32Array;
  moverDeltas: Float32Array;
  /** Movers per slot. */
  moverCounts: Int32Array;
}

/** This worker's rows without a centre (`lo .. hi − 1`), its index and the number of workers. */
export interface PartitionRange {
  lo: number;
  hi: number;
  id: number;
  workers: number;
}

/** A run's squared norms, and its bounds' basis and margins, for `repairCoreset` to prune with the same proofs. */
export type CoresetBounds = Pick<CoresetShared, 'norms' | 'basis' | 'basisDim' | 'eps2' | 'basisSlack'>;

/** Where a finished run leaves every row (`CoresetPartition.finish`), for `repairCoreset`. */
export interface CoresetState {
  /** δ_n after the last pick. */
  delta: Float32Array;
  /** Ordinal of the pick δ_n is the distance to; −1: none (δ_n is the start distance); −2: a removed row. */
  centre: Int32Array;
}

export interface Argmax {
  value: number;
  index: number;
}

export interface PartitionCounters {
  /** Row distances computed with the float32 formula. */
  pointDistances: number;
  /** Exact pick-to-centre distances computed (groups that passed the cheap bound). */
  centreDistances: number;
}

export function newExchange(count: number, basisDim: number, workers: number, memory: (bytes: number) => ArrayBufferLike): CoresetExchange {
  return {
    coords: new Float32Array(memory(count * basisDim * 4)),
    moverRows: new Int32Array(memory(2 * workers * count * 4)),
    moverDeltas: new Float32Array(memory(2 * workers * count * 4)),
    moverCounts: new Int32Array(memory(2 * workers * 4)),
  };
}

/** `basisDim` is a multiple of this: the head, then blocks of four. */
export const BASIS_BLOCK = HEAD;

/** Test 1/2 threshold on a lower bound of ‖x − c‖²: proves a row with δ = r cannot change. */
export function triangleThreshold(r: number, eps2: number): number {
  return 4.000004 * r * r + 4 * eps2;
}

/**
 * A group's two thresholds in the scan (`GroupScan`) for its largest δ `best` (−1: empty, never
 * passes): on the exact squared centre distance, and on its basis bound (`basisSlack` of the header).
 */
export function groupThresholds(best: number, eps2: number, basisSlack: number): { exact: number; basis: number } {
  const exact = triangleThreshold(Math.max(best, 0), eps2);
  return { exact, basis: best < 0 ? -1 : (exact + basisSlack * basisSlack * 1e6) / (1 - 1e-6) };
}

export class CoresetPartition {
  readonly counters: PartitionCounters = { pointDistances: 0, centreDistances: 0 };
  /**
   * Group g < picks belongs to pick g (used when this worker owns it); group `picks` holds this
   * range's rows without a centre. Each group's rows (row index, δ, basis coordinates) are stored
   * together, so that the sweep's tests stream through memory; only the rows that survive them
   * are read from the scattered input.
   */
  private readonly arena: GroupArena;
  private readonly maxDelta: Float64Array;
  private readonly maxIndex: Int32Array;
  /**
   * Tests 1 (the group tests) in the kernel: this worker's groups' centres and thresholds, and the
   * new pick's basis coordinates (read by the rows' test 3 too) and row.
   */
  private readonly scanner: GroupScan;
  /** Rows whose distance to the new pick must be computed (padded to a multiple of 4), and their slots in the group. */
  private readonly pending: Int32Array;
  private readonly pendingAt: Int32Array;
  private readonly distances: Float32Array;
  private picked = 0;
  /** This worker's movers of the last pick, and the largest δ among them (lowest row on ties). */
  private moved = 0;
  private movedBest = -1;
  private movedBestIndex = 0;

  constructor(
    private readonly shared: CoresetShared,
    private readonly exchange: CoresetExchange,
    private readonly range: PartitionRange,
  ) {
    const { input, basisDim } = shared;
    const { lo, hi } = range;
    const groups = input.picks + 1;
    // Room for this range's rows twice over: the groups hold about as many rows, from every range.
    this.arena = new GroupArena(groups, basisDim, 2 * (hi - lo));
    this.maxDelta = new Float64Array(groups).fill(-1);
    this.maxIndex = new Int32Array(groups);
    this.scanner = new GroupScan(Math.ceil(input.picks / range.workers), basisDim, input.dim);
    // A group may gather rows of every range.
    this.pending = new Int32Array(input.count + 4);
    this.pendingAt = new Int32Array(input.count + 4);
    this.distances = new Float32Array(input.count + 4);
    this.scanner.setBasis(shared.basis);
    this.scanner.project(input.y, lo, hi, exchange.coords, lo * basisDim);
    const start = startDistances(input, shared.norms, lo, hi);
    const none = input.picks;
    const arena = this.arena;
    arena.allocate(none, hi - lo);
    const at = arena.start[none];
    const cap = arena.cap[none];
    let size = 0;
    for (let n = lo; n < hi; n++) {
      if (input.firstPickRespectsMask && input.keep[n] === 0) continue;
      arena.f32[at + size] = start[n - lo];
      arena.i32[at + cap + size] = n;
      arena.f32.set(exchange.coords.subarray(n * basisDim, (n + 1) * basisDim), at + 2 * cap + size * basisDim);
      size++;
    }
    this.setGroup(none, size);
  }

  /** Largest δ this worker holds, lowest row index on ties (all δ = 0: the range's first row; no rows: index −1). */
  argmax(): Argmax {
    const none = this.shared.input.picks;
    const { id, workers, lo, hi } = this.range;
    const { size } = this.arena;
    let value = size[none] > 0 ? this.maxDelta[none] : -1;
    let index = this.maxIndex[none];
    for (let g = id; g < this.picked; g += workers) {
      if (size[g] === 0) continue;
      const v = this.maxDelta[g];
      if (v > value || (v === value && this.maxIndex[g] < index)) {
        value = v;
        index = this.maxIndex[g];
      }
    }
    // The last pick's movers, not gathered into its group yet.
    if (this.moved > 0 && (this.movedBest > value || (this.movedBest === value && this.movedBestIndex < index))) {
      value = this.movedBest;
      index = this.movedBestIndex;
    }
    if (value <= 0 && hi > lo) return { value: 0, index: lo };
    return { value, index };
  }

  /**
   * Applies the next pick, row `x`, to every row this worker holds. Every worker must have
   * finished the previous pick's `update` (a barrier) before any starts this one.
   */
  update(x: number): void {
    const { input } = this.shared;
    const { scanner } = this;
    const { id, workers } = this.range;
    const t = this.picked++;
    if (t > 0 && (t - 1) % workers === id) this.gather(t - 1);
    this.projectPick(x);
    scanner.setPickRow(input.y, x);
    // This worker's groups are slots 0, 1, … (groups id, id + W, …); the new group's centre is stored now.
    if (t % workers === id) scanner.storePickAt((t - id) / workers);
    this.moved = 0;
    this.movedBest = -1;
    this.movedBestIndex = 0;
    const passed = scanner.scan(t > id ? Math.ceil((t - id) / workers) : 0);
    this.counters.centreDistances = scanner.exactDistances;
    for (let i = 0; i < passed; i++) this.sweep(id + scanner.slots[i] * workers, x, t, scanner.lower[i]);
    this.sweep(input.picks, x, t, -1);
    this.exchange.moverCounts[(t & 1) * workers + id] = this.moved;
  }

  /**
   * After the last pick (and a barrier): each row this worker holds gets its δ and its centre's
   * pick ordinal (−1: none yet, δ is its start distance) in `state`. Removed rows are in no group
   * after the first pick; they keep centre −2.
   */
  finish(state: CoresetState): void {
    const { picks } = this.shared.input;
    const { id, workers } = this.range;
    if ((picks - 1) % workers === id) this.gather(picks - 1);
    const { f32, i32, start, cap, size } = this.arena;
    const dump = (g: number, centre: number): void => {
      for (let m = 0; m < size[g]; m++) {
        const n = i32[start[g] + cap[g] + m];
        state.delta[n] = f32[start[g] + m];
        state.centre[n] = centre;
      }
    };
    for (let g = id; g < picks; g += workers) dump(g, g);
    dump(picks, -1);
  }

  /** The movers every worker listed for pick `t` become its group (this worker owns it). */
  private gather(t: number): void {
    const { input, basisDim } = this.shared;
    const { coords, moverRows, moverDeltas, moverCounts } = this.exchange;
    const { workers } = this.range;
    const arena = this.arena;
    const first = (t & 1) * workers;
    let total = 0;
    for (let w = 0; w < workers; w++) total += moverCounts[first + w];
    arena.allocate(t, total);
    const { f32, i32 } = arena;
    const at = arena.start[t];
    let i = 0;
    for (let w = 0; w < workers; w++) {
      const off = (first + w) * input.count;
      for (let j = 0, c = moverCounts[first + w]; j < c; j++, i++) {
        const n = moverRows[off + j];
        f32[at + i] = moverDeltas[off + j];
        i32[at + total + i] = n;
        const to = at + 2 * total + i * basisDim;
        for (let k = 0; k < basisDim; k++) f32[to + k] = coords[n * basisDim + k];
      }
    }
    this.setGroup(t, total);
  }

  /**
   * Updates the rows of group `g` against pick `x` (ordinal `t`); rows whose δ drops are listed as
   * movers. `lower` bounds ‖x − c_g‖² from below (−1: unknown). Two passes: collect the rows no
   * bound settles, compute their distances four at a time, then (if any row moves) apply.
   */
  private sweep(g: number, x: number, t: number, lower: number): void {
    const { input, norms, eps2, basisDim, basisSlack } = this.shared;
    const { y, dim, keep, count: rowCount } = input;
    const { pending, pendingAt, distances, arena } = this;
    const pick = this.scanner.pickBasis;
    const { moverRows, moverDeltas } = this.exchange;
    const { f32, i32 } = arena;
    const size = arena.size[g];
    // The group's δ from d0, its rows from r0, its basis coordinates from c0.
    const d0 = arena.start[g];
    const r0 = d0 + arena.cap[g];
    const c0 = r0 + arena.cap[g];
    const slack2 = basisSlack * basisSlack * 1e6;
    // Removed rows only ever sit in the no-centre group (below): only its rows need the mask.
    const masked = g === input.picks;
    let count = 0;
    for (let m = 0; m < size; m++) {
      const dn = f32[d0 + m];
      if (lower >= triangleThreshold(dn, eps2) || (masked && keep[i32[r0 + m]] === 0)) continue;
      // Test 3, with early exit: (√lb − s)² ≥ δ²(1 + 1e−6) + ε² settles the row.
      const limit = (dn * dn * (1 + 1e-6) + eps2 + slack2) / (1 - 1e-6);
      const zn = c0 + m * basisDim;
      let lb = 0;
      for (let i = 0; i < basisDim && lb < limit; i += 4) {
        const u0 = f32[zn + i] - pick[i];
        const u1 = f32[zn + i + 1] - pick[i + 1];
        const u2 = f32[zn + i + 2] - pick[i + 2];
        const u3 = f32[zn + i + 3] - pick[i + 3];
        lb += u0 * u0 + u1 * u1 + (u2 * u2 + u3 * u3);
      }
      if (lb < limit) {
        pendingAt[count] = m;
        pending[count++] = i32[r0 + m];
      }
    }
    if (count > 0) {
      for (let i = count; i % 4 !== 0; i++) pending[i] = pending[count - 1];
      for (let i = 0; i < count; i += 4) coresetDistances4(y, norms, pending, i, y, x, norms[x], dim, distances);
      this.counters.pointDistances += count;
    }
    // Removed rows only ever sit in a no-centre group, before the first pick (δ = κ·D = 0): that
    // group is always compacted. Any other stays as it is unless a row moves.
    if (!masked) {
      let moves = false;
      for (let i = 0; i < count && !moves; i++) moves = distances[i] < f32[d0 + pendingAt[i]];
      if (!moves) return;
    }
    const out = ((t & 1) * this.range.workers + this.range.id) * rowCount;
    let kept = 0;
    let next = 0;
    let best = -1;
    let bestIndex = 0;
    for (let m = 0; m < size; m++) {
      const n = i32[r0 + m];
      if (masked && keep[n] === 0) continue;
      const dn = f32[d0 + m];
      if (next < count && pendingAt[next] === m) {
        const d = distances[next++];
        if (d < dn) {
          moverRows[out + this.moved] = n;
          moverDeltas[out + this.moved] = d;
          this.moved++;
          if (d > this.movedBest || (d === this.movedBest && n < this.movedBestIndex)) {
            this.movedBest = d;
            this.movedBestIndex = n;
          }
          continue;
        }
      }
      if (kept !== m) {
        f32[d0 + kept] = dn;
        i32[r0 + kept] = n;
        f32.copyWithin(c0 + kept * basisDim, c0 + m * basisDim, c0 + (m + 1) * basisDim);
      }
      kept++;
      if (dn > best || (dn === best && n < bestIndex)) {
        best = dn;
        bestIndex = n;
      }
    }
    arena.size[g] = kept;
    this.setStats(g, best, bestIndex);
  }

  /** Basis coordinates of pick row `x` in float64, into the kernel's `pickBasis`. */
  private projectPick(x: number): void {
    this.scanner.project(this.shared.input.y, x, x + 1, this.scanner.pickBasis, 0);
  }

  /** Group g's statistics once its first `size` rows are written. */
  private setGroup(g: number, size: number): void {
    const { f32, i32, start, cap } = this.arena;
    this.arena.size[g] = size;
    let best = -1;
    let bestIndex = 0;
    for (let m = 0; m < size; m++) {
      const dn = f32[start[g] + m];
      const n = i32[start[g] + cap[g] + m];
      if (dn > best || (dn === best && n < bestIndex)) {
        best = dn;
        bestIndex = n;
      }
    }
    this.setStats(g, best, bestIndex);
  }

  private setStats(g: number, best: number, bestIndex: number): void {
    const { eps2, basisSlack } = this.shared;
    this.maxDelta[g] = best;
    this.maxIndex[g] = bestIndex;
    // The no-centre group is never scanned; an empty group (best = −1) never passes: every
    // squared distance is ≥ 0 > −1.
    if (g === this.shared.input.picks) return;
    const { exact, basis } = groupThresholds(best, eps2, basisSlack);
    const slot = (g - this.range.id) / this.range.workers;
    this.scanner.exactThresholds[slot] = exact;
    this.scanner.basisThresholds[slot] = basis;
  }
}
