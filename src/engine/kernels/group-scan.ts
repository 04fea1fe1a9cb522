/**
 * The coreset's group scan in WebAssembly SIMD (wasm/group-scan.as.ts): which of one worker's
 * groups a new pick may take rows from, by the group tests of `coreset/partition.ts` (the pick's
 * distance to each group's centre on the first 8 basis coordinates, two groups per instruction,
 * then on the others, then exact, against the group's thresholds). The centres, the thresholds and
 * the pick live in the module's memory, written through the views below; slots are the worker's
 * groups in pick order. The same kernel computes basis coordinates of rows (`project`).
 */
import { instantiate, kernelModule, regions } from './wasm-kernel.js';

/** Basis coordinates of the first test; the basis has a multiple of this many. */
export const HEAD = 8;

const wasm = kernelModule('group-scan');
/** Rows projected per kernel call. */
const PROJECT_CHUNK = 256;

interface ScanExports {
  layout(
    heads: number,
    thresholds: number,
    rest: number,
    rows: number,
    pick: number,
    out: number,
    slots: number,
    basisDim: number,
    rowStride: number,
  ): void;
  scan(count: number): number;
  exactDistances(): number;
  layoutProjection(basis: number, rows: number, out: number, dim: number): void;
  projectRows(count: number): void;
}

export class GroupScan {
  /** Coordinate c < HEAD of slot s's centre at `heads[c][s]`. */
  readonly heads: Float64Array[];
  /** Slot s's tests on the squared basis bound and on the shrunk exact distance; below 0 for an empty group. */
  readonly basisThresholds: Float64Array;
  readonly exactThresholds: Float64Array;
  /** The new pick's basis coordinates (float64) and row (float32, zero-padded). */
  readonly pickBasis: Float64Array;
  readonly pickRow: Float32Array;
  /** After `scan`: the passing slots and the lower bounds of their squared distances, in slot order. */
  readonly slots: Int32Array;
  readonly lower: Float64Array;
  private readonly rest: Float64Array;
  private readonly rows: Float32Array;
  private readonly rowStride: number;
  private readonly kernel: ScanExports;
  private readonly projBasis: Float64Array;
  private readonly projRows: Float32Array;
  private readonly projOut: Float64Array;

  constructor(
    capacity: number,
    private readonly basisDim: number,
    private readonly dim: number,
  ) {
    // Even, so that the last pair of lanes stays inside every array.
    const cap = capacity + (capacity % 2);
    const stride = Math.ceil(dim / 4) * 4;
    const restDims = basisDim - HEAD;
    const space = regions();
    const take = space.take;
    const at = {
      heads: take(HEAD * cap * 8),
      thresholds: take(2 * cap * 8),
      rest: take(cap * restDims * 8),
      rows: take(cap * stride * 4),
      pick: take(basisDim * 8 + stride * 4),
      out: take(cap * 4 + cap * 8),
      projBasis: take(basisDim * dim * 8),
      projRows: take(PROJECT_CHUNK * dim * 4),
      projOut: take(PROJECT_CHUNK * basisDim * 8),
    };
    const { exports, memory } = instantiate<ScanExports>(wasm, space.bytes, 'group scan');
    this.kernel = exports;
    this.kernel.layout(at.heads, at.thresholds, at.rest, at.rows, at.pick, at.out, cap, basisDim, stride);
    this.kernel.layoutProjection(at.projBasis, at.projRows, at.projOut, dim);
    const buffer = memory.buffer;
    this.projBasis = new Float64Array(buffer, at.projBasis, basisDim * dim);
    this.projRows = new Float32Array(buffer, at.projRows, PROJECT_CHUNK * dim);
    this.projOut = new Float64Array(buffer, at.projOut, PROJECT_CHUNK * basisDim);
    this.heads = Array.from({ length: HEAD }, (_, c) => new Float64Array(buffer, at.heads + c * cap * 8, cap));
    this.basisThresholds = new Float64Array(buffer, at.thresholds, cap).fill(-1);
    this.exactThresholds = new Float64Array(buffer, at.thresholds + cap * 8, cap).fill(-1);
    this.rest = new Float64Array(buffer, at.rest, cap * restDims);
    this.rows = new Float32Array(buffer, at.rows, cap * stride);
    this.pickBasis = new Float64Array(buffer, at.pick, basisDim);
    this.pickRow = new Float32Array(buffer, at.pick + basisDim * 8, stride);
    this.slots = new Int32Array(buffer, at.out, cap);
    this.lower = new Float64Array(buffer, at.out + cap * 4, cap);
    this.rowStride = stride;
  }

  /** The orthonormal basis (`basisDim × dim`, float64) that `project` uses. */
  setBasis(basis: Float64Array): void {
    const { basisDim, dim } = this;
    for (let p = 0; p < basisDim; p += 2) {
      for (let k = 0; k < dim; k++) {
        this.projBasis[p * dim + 2 * k] = basis[p * dim + k];
        this.projBasis[p * dim + 2 * k + 1] = basis[(p + 1) * dim + k];
      }
    }
  }

  /**
   * Basis coordinates of rows `lo .. hi − 1` of `y` into `out` from index `at` (`basisDim` per row):
   * float64 sums, rounded on storing into a float32 `out`.
   */
  project(y: Float32Array, lo: number, hi: number, out: Float32Array | Float64Array, at: number): void {
    const { basisDim, dim } = this;
    for (let n0 = lo; n0 < hi; n0 += PROJECT_CHUNK) {
      const count = Math.min(PROJECT_CHUNK, hi - n0);
      this.projRows.set(y.subarray(n0 * dim, (n0 + count) * dim));
      this.kernel.projectRows(count);
      out.set(this.projOut.subarray(0, count * basisDim), at + (n0 - lo) * basisDim);
    }
  }

  /** The new pick's row `x` of `y` (its basis coordinates go to `pickBasis` directly). */
  setPickRow(y: Float32Array, x: number): void {
    this.pickRow.set(y.subarray(x * this.dim, (x + 1) * this.dim));
  }

  /** Slot `slot`'s centre: the pick now in `pickBasis` and `pickRow`. */
  storePickAt(slot: number): void {
    const restDims = this.basisDim - HEAD;
    for (let c = 0; c < HEAD; c++) this.heads[c][slot] = this.pickBasis[c];
    this.rest.set(this.pickBasis.subarray(HEAD), slot * restDims);
    this.rows.set(this.pickRow, slot * this.rowStride);
  }

  /** Slots `0 .. count − 1` that pass the three tests against the pick; their number. */
  scan(count: number): number {
    return this.kernel.scan(count);
  }

  /** Groups that reached the exact test, over every scan so far. */
  get exactDistances(): number {
    return this.kernel.exactDistances();
  }
}
