/**
 * Random projections (spec §4.1, §5): `z = R·x` with `R ∈ R^{d×D}`, entries uniform on
 * (−1/√D, +1/√D) (PyTorch `Linear(D, d, bias=False)` initialisation), drawn from the engine's
 * seeded generator. Features are projected image by image as they arrive, so no N × D copy of the
 * training set is ever made. The fast path is one onnxruntime MatMul per image (a JS loop costs
 * ~70 ms per image for both projections, more than the backbone itself); the plain loop stays as
 * the reference the tests compare it with.
 */
import { matmul } from './ort.js';
import type { Rng } from './random.js';

/** Draws `R` (row-major, `outDim × inDim`) from `rng`. */
export function drawProjection(rng: Rng, outDim: number, inDim: number): Float32Array {
  const bound = 1 / Math.sqrt(inDim);
  const r = new Float32Array(outDim * inDim);
  for (let i = 0; i < r.length; i++) r[i] = (2 * rng.next() - 1) * bound;
  return r;
}

/** Plain reference: `out[row·outDim + i] = Σ_k R[i·inDim + k]·x[row·inDim + k]`, float64 sums rounded to float32. */
export function projectReference(x: Float32Array, rows: number, inDim: number, r: Float32Array, outDim: number): Float32Array {
  const out = new Float32Array(rows * outDim);
  for (let row = 0; row < rows; row++) {
    for (let i = 0; i < outDim; i++) {
      let s = 0;
      for (let k = 0; k < inDim; k++) s += r[i * inDim + k] * x[row * inDim + k];
      out[row * outDim + i] = s;
    }
  }
  return out;
}

/**
 * Projects blocks of rows with several matrices at once (one pass over the input): one float32
 * MatMul `X[rows, D] · W` in onnxruntime, `W` holding the matrices transposed side by side.
 * Single-threaded: the work is small (0.4 GFLOP per 784-row image for two matrices), and a fixed
 * thread count keeps the rounding, hence the bank, the same on every run.
 */
export class Projector {
  private readonly w: Float32Array;
  private readonly outDims: number[];
  private readonly total: number;

  constructor(
    matrices: Float32Array[],
    private readonly inDim: number,
    /** onnxruntime threads of each product (the result does not depend on it). */
    private readonly threads = 1,
  ) {
    this.outDims = matrices.map((m) => m.length / inDim);
    this.total = this.outDims.reduce((a, b) => a + b, 0);
    this.w = new Float32Array(inDim * this.total);
    let col0 = 0;
    matrices.forEach((m, j) => {
      for (let i = 0; i < this.outDims[j]; i++) {
        for (let k = 0; k < inDim; k++) this.w[k * this.total + col0 + i] = m[i * inDim + k];
      }
      col0 += this.outDims[j];
    });
  }

  /**
   * Projects `rows` rows of `x` with every matrix; matrix `j`'s result goes to `outs[j]` starting
   * at row `rowOffset` (so per-image results land in one N-row array).
   */
  async project(x: Float32Array, rows: number, outs: Float32Array[], rowOffset: number): Promise<void> {
    const { total, outDims } = this;
    const y = await matmul(x.subarray(0, rows * this.inDim), this.w, rows, this.inDim, total, this.threads);
    let c = 0;
    outs.forEach((out, j) => {
      const dj = outDims[j];
      for (let row = 0; row < rows; row++) out.set(y.subarray(row * total + c, row * total + c + dj), (rowOffset + row) * dj);
      c += dj;
    });
  }
}
