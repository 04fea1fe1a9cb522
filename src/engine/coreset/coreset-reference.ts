/**
 * The weighted greedy coreset exactly as spec §5 writes it: every pick updates every row. It is the
 * yardstick for `coreset.ts` (which must select the identical sequence) and far too slow for real
 * builds (~5 min at N = 156,800, M = 15,680 on this machine).
 */
import { type CoresetInput, coresetDistance, squaredNorms, startDistances } from './metric.js';

export function greedyCoresetReference(input: CoresetInput): Int32Array {
  const { y, count, dim, keep, picks } = input;
  const norms = squaredNorms(y, count, dim);
  const delta = startDistances(input, norms, 0, count);
  const selected = new Int32Array(picks);
  for (let t = 0; t < picks; t++) {
    let c = 0;
    for (let n = 1; n < count; n++) if (delta[n] > delta[c]) c = n;
    selected[t] = c;
    for (let n = 0; n < count; n++) {
      const d = keep[n] ? coresetDistance(y, norms, n, c, dim) : 0;
      if (d < delta[n]) delta[n] = d;
    }
  }
  return selected;
}
