/**
 * Random projections (spec §4.1, §5): `z = R·x` with `R ∈ R^{d×D}`, entries uniform on
 * (−1/√D, +1/√D) (PyTorch `Linear(D, d, bias=False)` initialisation), drawn from the engine's
 * seeded generator. Features are projected image by image as they arrive, so no N × D copy of the
 * training set is ever made. The fast path is one onnxruntime MatMul per image (a JS loop costs
 * ~70 ms per image for both projections, more than the backbone); the plain loop stays as the
 * reference the tests compare it with.
 */
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../common/onnx-graph.js';
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

/** Projects blocks of rows with several matrices at once (one pass over the input). */
export interface Projector {
  /**
   * Projects `rows` rows of `x` with every matrix; matrix `j`'s result goes to `outs[j]` starting
   * at row `rowOffset` (so per-image results land in one N-row array).
   */
  project(x: Float32Array, rows: number, outs: Float32Array[], rowOffset: number): Promise<void>;
  release(): Promise<void>;
}

/**
 * One MatMul graph `X[n, D] · Wᵀ` with `W` the stacked matrices. Single-threaded by default: the
 * work is small (0.4 GFLOP per 784-row image) and the coreset workers need the cores.
 */
export async function createProjector(matrices: Float32Array[], inDim: number, opts: { threads?: number } = {}): Promise<Projector> {
  const outDims = matrices.map((m) => m.length / inDim);
  const total = outDims.reduce((a, b) => a + b, 0);
  // Transposed and stacked: column block j of W holds matrix j.
  const w = new Float32Array(inDim * total);
  let col0 = 0;
  matrices.forEach((m, j) => {
    for (let i = 0; i < outDims[j]; i++) {
      for (let k = 0; k < inDim; k++) w[k * total + col0 + i] = m[i * inDim + k];
    }
    col0 += outDims[j];
  });
  const g = new GraphBuilder('projection');
  const xName = g.input('x', ['n', inDim]);
  const wName = g.constant('w', [inDim, total], w);
  g.node('MatMul', [xName, wName], {}, ['y']);
  g.output('y', ['n', total]);
  const session = await ort.InferenceSession.create(g.encode(), {
    intraOpNumThreads: opts.threads ?? 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });

  return {
    async project(x, rows, outs, rowOffset) {
      const input = new ort.Tensor('float32', x.subarray(0, rows * inDim), [rows, inDim]);
      const result = await session.run({ x: input });
      const y = result.y.data as Float32Array;
      let c = 0;
      outs.forEach((out, j) => {
        const dj = outDims[j];
        for (let row = 0; row < rows; row++) {
          out.set(y.subarray(row * total + c, row * total + c + dj), (rowOffset + row) * dj);
        }
        c += dj;
      });
      result.y.dispose();
    },
    release: () => session.release(),
  };
}
