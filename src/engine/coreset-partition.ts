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
 * Only rows that survive all three get the float32 distance. On real features (bottle, N = 156,800,
 * M = 15,680) about 0.2 % of the N·M distances remain.
 *
 * Rounding margins. With u = 2⁻²⁴ and N* = max‖y‖², the float32 formula's squared result is within
 * ε² = 16·u·N* of the true squared distance (norms, dot, sum and difference each add at most
 * u·(‖a‖² + ‖b‖²)), and the final sqrt/rounding adds a relative 2u. So D(n, x) ≥ δ_n holds as soon as
 * the true a = ‖y_n − x‖ has a² ≥ δ²(1 + 2.1u) + ε² (test 3). For tests 1-2: with b = true ‖y_n − c‖,
 * b² ≤ δ²(1 + 2.1u) + ε², and a ≥ ‖x − c‖ − b, so ‖x − c‖² ≥ 4·δ²·(1 + 1e−6) + 4·ε² suffices.
 * Basis coordinates carry float32 rounding (rows) or float64 rounding (picks); `basisSlack` bounds
 * the resulting error of a basis distance.
 */
import { type CoresetInput, coresetDistances4, startDistances } from './coreset-metric.js';

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

/** Lower bound on the square of `√lb2 − slack` (taken as 0 when negative), without a sqrt: (A − s)² ≥ A²(1 − h) − s²(1/h − 1), h = 1e−6. */
function lessSlack(lb2: number, slack: number): number {
  return lb2 * (1 - 1e-6) - slack * slack * 1e6;
}

export class CoresetPartition {
  readonly counters: PartitionCounters = { pointDistances: 0, centreDistances: 0 };
  private readonly delta: Float32Array;
  /** Basis coordinates of this range's rows (`(hi − lo) × basisDim`). */
  private readonly rowBasis: Float32Array;
  /** Group g < picks belongs to pick g; group `picks` holds the rows without a centre yet. */
  private readonly members: Int32Array[];
  private readonly size: Int32Array;
  private readonly maxDelta: Float64Array;
  private readonly maxIndex: Int32Array;
  /** Skip group g when a lower bound L of ‖x − c_g‖ has L² ≥ exactThreshold[g]. */
  private readonly exactThreshold: Float64Array;
  /** The same test on the squared basis distance, slack included. */
  private readonly basisThreshold: Float64Array;
  private readonly centreRow: Int32Array;
  private readonly centreBasis: Float64Array;
  /** Rows moving to the new pick's group. */
  private readonly scratch: Int32Array;
  /** Rows whose distance to the new pick must be computed (padded to a multiple of 4). */
  private readonly pending: Int32Array;
  private readonly distances: Float32Array;
  private picked = 0;

  constructor(
    private readonly shared: CoresetShared,
    private readonly lo: number,
    private readonly hi: number,
  ) {
    const { input, norms, basis, basisDim } = shared;
    const { y, dim } = input;
    const groups = input.picks + 1;
    this.members = new Array<Int32Array>(groups).fill(new Int32Array(0));
    this.size = new Int32Array(groups);
    this.maxDelta = new Float64Array(groups).fill(-1);
    this.maxIndex = new Int32Array(groups);
    this.exactThreshold = new Float64Array(groups);
    this.basisThreshold = new Float64Array(groups);
    this.centreRow = new Int32Array(input.picks);
    this.centreBasis = new Float64Array(input.picks * basisDim);
    this.scratch = new Int32Array(hi - lo);
    this.pending = new Int32Array(hi - lo + 4);
    this.distances = new Float32Array(hi - lo + 4);
    this.delta = startDistances(input, norms, lo, hi);
    this.rowBasis = new Float32Array((hi - lo) * basisDim);
    for (let n = lo; n < hi; n++) {
      for (let i = 0; i < basisDim; i++) {
        let s = 0;
        for (let k = 0; k < dim; k++) s += basis[i * dim + k] * y[n * dim + k];
        this.rowBasis[(n - lo) * basisDim + i] = s;
      }
    }
    const none: number[] = [];
    for (let n = lo; n < hi; n++) if (!(input.firstPickRespectsMask && input.keep[n] === 0)) none.push(n);
    this.setGroup(input.picks, Int32Array.from(none));
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
    const { input, basis, basisDim } = this.shared;
    const { y, dim } = input;
    const t = this.picked++;
    this.centreRow[t] = x;
    const zx = t * basisDim;
    for (let i = 0; i < basisDim; i++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += basis[i * dim + k] * y[x * dim + k];
      this.centreBasis[zx + i] = s;
    }
    let moved = 0;
    for (let g = 0; g < t; g++) {
      if (this.size[g] === 0) continue;
      // Cheap bound first, with early exit: partial sums only grow.
      const limit = this.basisThreshold[g];
      const zg = g * basisDim;
      let lb = 0;
      for (let i = 0; i < basisDim && lb < limit; i++) {
        const u = this.centreBasis[zx + i] - this.centreBasis[zg + i];
        lb += u * u;
      }
      if (lb >= limit) continue;
      this.counters.centreDistances++;
      const c = this.centreRow[g];
      let exact = 0;
      for (let k = 0; k < dim; k++) {
        const u = y[x * dim + k] - y[c * dim + k];
        exact += u * u;
      }
      const lower = exact * (1 - 1e-12);
      if (lower >= this.exactThreshold[g]) continue;
      moved = this.sweep(g, x, t, lower, moved);
    }
    moved = this.sweep(input.picks, x, t, -1, moved);
    this.setGroup(t, this.scratch.slice(0, moved));
  }

  /**
   * Updates the rows of group `g` against pick `x` (ordinal `t`); rows whose δ drops move to group
   * `t` (collected in `scratch` from position `moved`). `lower` bounds ‖x − c_g‖² from below (−1:
   * unknown). Two passes: collect the rows no bound settles, compute their distances four at a
   * time, then apply.
   */
  private sweep(g: number, x: number, t: number, lower: number, moved: number): number {
    const { input, norms, eps2, basisDim, basisSlack } = this.shared;
    const { y, dim, keep } = input;
    const { delta, scratch, lo, pending, distances, rowBasis, centreBasis } = this;
    const zx = t * basisDim;
    const list = this.members[g];
    const size = this.size[g];
    let count = 0;
    for (let m = 0; m < size; m++) {
      const n = list[m];
      const dn = delta[n - lo];
      if (keep[n] === 0 || lower >= triangleThreshold(dn, eps2)) continue;
      const need = dn * dn * (1 + 1e-6) + eps2;
      const zn = (n - lo) * basisDim;
      let lb = 0;
      for (let i = 0; i < basisDim; i++) {
        const u = rowBasis[zn + i] - centreBasis[zx + i];
        lb += u * u;
      }
      if (lessSlack(lb, basisSlack) < need) pending[count++] = n;
    }
    if (count > 0) {
      for (let i = count; i % 4 !== 0; i++) pending[i] = pending[count - 1];
      for (let i = 0; i < count; i += 4) coresetDistances4(y, norms, pending, i, x, dim, distances);
      this.counters.pointDistances += count;
    }
    let kept = 0;
    let next = 0;
    let best = -1;
    let bestIndex = 0;
    for (let m = 0; m < size; m++) {
      const n = list[m];
      // Removed rows only ever sit in the no-centre group, before the first pick: δ = κ·D = 0.
      if (keep[n] === 0) {
        delta[n - lo] = 0;
        continue;
      }
      const dn = delta[n - lo];
      if (next < count && pending[next] === n) {
        const d = distances[next++];
        if (d < dn) {
          delta[n - lo] = d;
          scratch[moved++] = n;
          continue;
        }
      }
      list[kept++] = n;
      if (dn > best || (dn === best && n < bestIndex)) {
        best = dn;
        bestIndex = n;
      }
    }
    this.size[g] = kept;
    if (kept * 4 < list.length && list.length > 64) this.members[g] = list.slice(0, kept);
    this.setStats(g, best, bestIndex);
    return moved;
  }

  private setGroup(g: number, rows: Int32Array): void {
    this.members[g] = rows;
    this.size[g] = rows.length;
    let best = -1;
    let bestIndex = 0;
    for (const n of rows) {
      const dn = this.delta[n - this.lo];
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
    // lessSlack(lb2) ≥ exact  ⇐  lb2 ≥ (exact + 1e6·slack²) / (1 − 1e−6).
    this.basisThreshold[g] = (exact + basisSlack * basisSlack * 1e6) / (1 - 1e-6);
  }
}
