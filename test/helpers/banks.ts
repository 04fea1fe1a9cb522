/** Hand-written banks for the scoring and calibration tests. */
import type { Bank } from '../../src/engine/index.js';

/** A bank from its rows (one feature vector each), soft weights and source images. */
export function bankOf(rows: number[][], weights: number[], sourceImage: number[]): Bank {
  return {
    rows: rows.length,
    dim: rows[0].length,
    features: Float32Array.from(rows.flat()),
    weights: Float32Array.from(weights),
    sourceImage: Int32Array.from(sourceImage),
  };
}
