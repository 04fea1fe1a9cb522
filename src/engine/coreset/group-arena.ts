/**
 * One coreset worker's groups (`partition.ts`) in one buffer. A group is a block of `cap` rows laid
 * out as their δ (float32), their row indices (int32), then their basis coordinates (float32 ×
 * basisDim, row after row), so that a sweep reads a group's δ densely and a row's coordinates in
 * one place, and consecutive groups' blocks do not scatter over the heap. Blocks are taken in
 * order; when the buffer is full the live blocks slide down to its start, each shrunk to its rows
 * (and the buffer doubles when that is not enough). A group's block only moves in `allocate`.
 */
export class GroupArena {
  f32: Float32Array;
  i32: Int32Array;
  /** Word offset of group g's block, its capacity and its rows. */
  readonly start: Int32Array;
  readonly cap: Int32Array;
  readonly size: Int32Array;
  private top = 0;
  /** Groups with a block, in the order of their blocks. */
  private order: number[] = [];

  constructor(
    groups: number,
    private readonly basisDim: number,
    rows: number,
  ) {
    this.f32 = new Float32Array(Math.max(1024, rows * (2 + basisDim)));
    this.i32 = new Int32Array(this.f32.buffer);
    this.start = new Int32Array(groups);
    this.cap = new Int32Array(groups);
    this.size = new Int32Array(groups);
  }

  /** A block of `rows` rows for group `g`, which has none yet; its size is 0 until the caller sets it. */
  allocate(g: number, rows: number): void {
    const words = rows * (2 + this.basisDim);
    if (this.top + words > this.f32.length) this.compact(words);
    this.start[g] = this.top;
    this.cap[g] = rows;
    this.size[g] = 0;
    this.top += words;
    this.order.push(g);
  }

  /** Live blocks slid down and shrunk to their rows, into a larger buffer when `need` more words would not fit. */
  private compact(need: number): void {
    const B = this.basisDim;
    let live = 0;
    for (const g of this.order) live += this.size[g] * (2 + B);
    const target = live + need > this.f32.length ? new Int32Array(Math.max(2 * this.f32.length, 2 * (live + need))) : this.i32;
    const from = this.i32;
    let w = 0;
    const kept: number[] = [];
    for (const g of this.order) {
      const n = this.size[g];
      if (n === 0) {
        this.cap[g] = 0;
        continue;
      }
      const s = this.start[g];
      const c = this.cap[g];
      // In place, each part's destination lies at or below its source and ends before the next
      // part's source (n ≤ c, w ≤ s): copied in this order, nothing is overwritten before it is read.
      const parts = [
        [s, n, w],
        [s + c, n, w + n],
        [s + 2 * c, n * B, w + 2 * n],
      ];
      for (const [src, len, dst] of parts) {
        if (target === from) target.copyWithin(dst, src, src + len);
        else target.set(from.subarray(src, src + len), dst);
      }
      this.start[g] = w;
      this.cap[g] = n;
      w += n * (2 + B);
      kept.push(g);
    }
    this.order = kept;
    this.top = w;
    if (target !== this.i32) {
      this.i32 = target;
      this.f32 = new Float32Array(target.buffer);
    }
  }
}
