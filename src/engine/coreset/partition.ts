/**
 * The fast greedy coreset's state for one contiguous range of rows. Its picks are identical to
 * `greedyCoresetReference`: it only skips a distance when a bound proves that the reference's
 * `min` would not change, and every distance it does compute uses the same float32 formula
 * (`coreset-metric.ts`), so argmax ties break the same way.
 *
 * Rows are grouped by their *centre*: the pick whose distance is their current δ (δ_n = D(n, centre)
 * bit for bit). For a new pick x, three tests, cheapest first, each a proof that D(n, x) ≥ δ_n:
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
 * Basis coordinates carry float32 rounding (rows) or float64 rounding (picks); `basisSlack` = s
 * bounds the resulting error of a basis distance A, and (A − s)² ≥ A²(1 − h) − s²/h with h = 1e−6
 * turns "A − s ≥ bound" into a test on A² without a square root.
 */
import { type CoresetInput, coresetDistances4, startDistances } from './metric.js';

/** Everything the partitions share (read-only). */
export interface CoresetShared {
  input: CoresetInput;
  norms: Float32Array;
  /** Orthonormal rows (`basisDim × dim`, float64) for the cheap lower bounds. */
  basis: Float64Array;
  basisDim: number;
  /** ε² of the header comment. */
  eps2: number;
  /** Absolute error bound of a distance between basis coordinates (float32 rows included). */
  basisSlack: number;
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

/** Test 1/2 threshold on a lower bound of ‖x − c‖²: proves a row with δ = r cannot change. */
function triangleThreshold(r: number, eps2: number): number {
  return 4.000004 * r * r + 4 * eps2;
}

/**
 * One group's rows, stored contiguously (row index, δ, basis coordinates) so that the sweep's tests
 * stream through memory; only the rows that survive them are read from the scattered input. The
 * row count lives in the partition's `size` array, which the scan over all groups reads without
 * touching these objects.
 */
interface Group {
  rows: Int32Array;
  deltas: Float32Array;
  coords: Float32Array;
}

function newGroup(capacity: number, basisDim: number): Group {
  return { rows: new Int32Array(capacity), deltas: new Float32Array(capacity), coords: new Float32Array(capacity * basisDim) };
}

export class CoresetPartition {
  readonly counters: PartitionCounters = { pointDistances: 0, centreDistances: 0 };
  /** Group g < picks belongs to pick g; group `picks` holds the rows without a centre yet. */
  private readonly groups: Group[];
  private readonly size: Int32Array;
  private readonly maxDelta: Float64Array;
  private readonly maxIndex: Int32Array;
  /** Skip group g when a lower bound L of ‖x − c_g‖ has L² ≥ exactThreshold[g]. */
  private readonly exactThreshold: Float64Array;
  /** The same test on the squared basis distance, slack included. */
  private readonly basisThreshold: Float64Array;
  /** The picks' rows and basis coordinates, copied in pick order (the scan reads them in order). */
  private readonly centreRows: Float32Array;
  private readonly centreBasis: Float64Array;
  /** The new pick's group as it fills. */
  private readonly incoming: Group;
  private incomingSize = 0;
  /** Rows whose distance to the new pick must be computed (padded to a multiple of 4). */
  private readonly pending: Int32Array;
  private readonly distances: Float32Array;
  private picked = 0;

  constructor(
    private readonly shared: CoresetShared,
    private readonly lo: number,
    private readonly hi: number,
  ) {
    const { input, norms, basisDim } = shared;
    const count = hi - lo;
    const groups = input.picks + 1;
    this.groups = Array.from({ length: groups }, () => newGroup(0, basisDim));
    this.size = new Int32Array(groups);
    this.maxDelta = new Float64Array(groups).fill(-1);
    this.maxIndex = new Int32Array(groups);
    this.exactThreshold = new Float64Array(groups);
    this.basisThreshold = new Float64Array(groups);
    this.centreRows = new Float32Array(input.picks * input.dim);
    this.centreBasis = new Float64Array(input.picks * basisDim);
    this.incoming = newGroup(count, basisDim);
    this.pending = new Int32Array(count + 4);
    this.distances = new Float32Array(count + 4);
    const start = startDistances(input, norms, lo, hi);
    const none = newGroup(count, basisDim);
    let size = 0;
    for (let n = lo; n < hi; n++) {
      if (input.firstPickRespectsMask && input.keep[n] === 0) continue;
      none.rows[size] = n;
      none.deltas[size] = start[n - lo];
      this.project(n, none.coords, size * basisDim);
      size++;
    }
    this.setGroup(input.picks, none, size);
  }

  /** Largest δ in this range, lowest row index on ties (all δ = 0: the first row; no rows: index −1). */
  argmax(): Argmax {
    const none = this.shared.input.picks;
    let value = this.size[none] > 0 ? this.maxDelta[none] : -1;
    let index = this.maxIndex[none];
    for (let g = 0; g < this.picked; g++) {
      if (this.size[g] === 0) continue;
      const v = this.maxDelta[g];
      if (v > value || (v === value && this.maxIndex[g] < index)) {
        value = v;
        index = this.maxIndex[g];
      }
    }
    if (value <= 0 && this.hi > this.lo) return { value: 0, index: this.lo };
    return { value, index };
  }

  /** Applies the next pick, row `x`, to every row of the range. */
  update(x: number): void {
    const { input, basisDim } = this.shared;
    const { y, dim } = input;
    const { centreRows, centreBasis } = this;
    const t = this.picked++;
    centreRows.set(y.subarray(x * dim, (x + 1) * dim), t * dim);
    const coords = new Float64Array(basisDim);
    this.project(x, coords, 0);
    centreBasis.set(coords, t * basisDim);
    const zx = t * basisDim;
    const xr = t * dim;
    this.incomingSize = 0;
    for (let g = 0; g < t; g++) {
      if (this.size[g] === 0) continue;
      // Cheap bound first, with early exit: partial sums only grow.
      const limit = this.basisThreshold[g];
      const zg = g * basisDim;
      let lb = 0;
      for (let i = 0; i < basisDim && lb < limit; i++) {
        const u = centreBasis[zx + i] - centreBasis[zg + i];
        lb += u * u;
      }
      if (lb >= limit) continue;
      this.counters.centreDistances++;
      const gr = g * dim;
      let exact = 0;
      for (let k = 0; k < dim; k++) {
        const u = centreRows[xr + k] - centreRows[gr + k];
        exact += u * u;
      }
      const lower = exact * (1 - 1e-12);
      if (lower >= this.exactThreshold[g]) continue;
      this.sweep(g, x, t, lower);
    }
    this.sweep(input.picks, x, t, -1);
    const { incoming, incomingSize: size } = this;
    this.setGroup(
      t,
      { rows: incoming.rows.slice(0, size), deltas: incoming.deltas.slice(0, size), coords: incoming.coords.slice(0, size * basisDim) },
      size,
    );
  }

  /**
   * Updates the rows of group `g` against pick `x` (ordinal `t`); rows whose δ drops move to the
   * incoming group. `lower` bounds ‖x − c_g‖² from below (−1: unknown). Two passes: collect the
   * rows no bound settles, compute their distances four at a time, then apply.
   */
  private sweep(g: number, x: number, t: number, lower: number): void {
    const { input, norms, eps2, basisDim, basisSlack } = this.shared;
    const { y, dim, keep } = input;
    const { pending, distances, centreBasis, incoming } = this;
    const group = this.groups[g];
    const { rows, deltas, coords } = group;
    const size = this.size[g];
    const zx = t * basisDim;
    const slack2 = basisSlack * basisSlack * 1e6;
    let count = 0;
    for (let m = 0; m < size; m++) {
      const dn = deltas[m];
      if (keep[rows[m]] === 0 || lower >= triangleThreshold(dn, eps2)) continue;
      // Test 3, with early exit: (√lb − s)² ≥ δ²(1 + 1e−6) + ε² settles the row.
      const limit = (dn * dn * (1 + 1e-6) + eps2 + slack2) / (1 - 1e-6);
      const zn = m * basisDim;
      let lb = 0;
      for (let i = 0; i < basisDim && lb < limit; i++) {
        const u = coords[zn + i] - centreBasis[zx + i];
        lb += u * u;
      }
      if (lb < limit) pending[count++] = rows[m];
    }
    if (count > 0) {
      for (let i = count; i % 4 !== 0; i++) pending[i] = pending[count - 1];
      for (let i = 0; i < count; i += 4) coresetDistances4(y, norms, pending, i, y, x, norms[x], dim, distances);
      this.counters.pointDistances += count;
    }
    let kept = 0;
    let next = 0;
    let best = -1;
    let bestIndex = 0;
    for (let m = 0; m < size; m++) {
      const n = rows[m];
      // Removed rows only ever sit in the no-centre group, before the first pick: δ = κ·D = 0.
      if (keep[n] === 0) continue;
      const dn = deltas[m];
      if (next < count && pending[next] === n) {
        const d = distances[next++];
        if (d < dn) {
          const i = this.incomingSize++;
          incoming.rows[i] = n;
          incoming.deltas[i] = d;
          incoming.coords.set(coords.subarray(m * basisDim, (m + 1) * basisDim), i * basisDim);
          continue;
        }
      }
      if (kept !== m) {
        rows[kept] = n;
        deltas[kept] = dn;
        coords.copyWithin(kept * basisDim, m * basisDim, (m + 1) * basisDim);
      }
      kept++;
      if (dn > best || (dn === best && n < bestIndex)) {
        best = dn;
        bestIndex = n;
      }
    }
    this.size[g] = kept;
    if (kept * 4 < rows.length && rows.length > 64) {
      this.groups[g] = { rows: rows.slice(0, kept), deltas: deltas.slice(0, kept), coords: coords.slice(0, kept * basisDim) };
    }
    this.setStats(g, best, bestIndex);
  }

  /** Basis coordinates of row `n` into `out[at ..]`. */
  private project(n: number, out: Float32Array | Float64Array, at: number): void {
    const { input, basis, basisDim } = this.shared;
    const { y, dim } = input;
    for (let i = 0; i < basisDim; i++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += basis[i * dim + k] * y[n * dim + k];
      out[at + i] = s;
    }
  }

  private setGroup(g: number, group: Group, size: number): void {
    this.groups[g] = group;
    this.size[g] = size;
    let best = -1;
    let bestIndex = 0;
    for (let m = 0; m < size; m++) {
      const dn = group.deltas[m];
      const n = group.rows[m];
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
    const exact = triangleThreshold(Math.max(best, 0), eps2);
    this.exactThreshold[g] = exact;
    this.basisThreshold[g] = (exact + basisSlack * basisSlack * 1e6) / (1 - 1e-6);
  }
}
