/**
 * The per-position discriminators' distance matrix in WebAssembly SIMD
 * (wasm/position-distances.as.ts): Euclidean distances between the points of one position, float64
 * sums of squared differences in order, the same bits as the plain loop of
 * `discriminators-reference.ts`. The matrix lives in the kernel's memory, read through `matrix`.
 */
import { instantiate, kernelModule, regions } from './wasm-kernel.js';

const wasm = kernelModule('position-distances');

interface DistanceExports {
  layout(pairs: number, out: number, count: number, dim: number): void;
  distances(): void;
}

export class PositionDistances {
  /** The last `compute`'s matrix, `count × count`, row-major. */
  readonly matrix: Float64Array;
  private readonly pairs: Float64Array;
  private readonly kernel: DistanceExports;

  constructor(
    private readonly count: number,
    private readonly dim: number,
  ) {
    const pairCount = Math.ceil(count / 2);
    const space = regions();
    const at = { pairs: space.take(pairCount * 2 * dim * 8), out: space.take(count * count * 8) };
    const { exports, memory } = instantiate<DistanceExports>(wasm, space.bytes, 'position distances');
    this.kernel = exports;
    this.kernel.layout(at.pairs, at.out, count, dim);
    this.pairs = new Float64Array(memory.buffer, at.pairs, pairCount * 2 * dim);
    this.matrix = new Float64Array(memory.buffer, at.out, count * count);
  }

  /** The matrix of `points` (`count × dim`, row-major). */
  compute(points: Float64Array): void {
    const { count, dim, pairs } = this;
    // Point p's coordinate k at pair ⌊p/2⌋, slot 2k + (p mod 2); an odd count's last point twice.
    for (let p = 0; p < count + (count % 2); p++) {
      const src = Math.min(p, count - 1) * dim;
      const dst = (p >> 1) * 2 * dim + (p & 1);
      for (let k = 0; k < dim; k++) pairs[dst + 2 * k] = points[src + k];
    }
    this.kernel.distances();
  }
}
