/**
 * The weighted greedy coreset exactly as spec §5 writes it: every pick updates every row. It is the
 * yardstick for `coreset.ts` (which must select the identical sequence) and far too slow for real
 * builds (~5 min at N = 156,800, M = 15,680 on this machine).
 */
import { type CoresetInput, coresetDistance, squaredNorms, startDistances } from './metric.js';

/** δ_n = min(δ_n, D(n, c)), removed rows at 0. */
function update(input: CoresetInput, norms: Float32Array, delta: Float32Array, c: number): void {
  const { y, dim, keep } = input;
  for (let n = 0; n < delta.length; n++) {
    const d = keep[n] ? coresetDistance(y, norms, n, c, dim) : 0;
    if (d < delta[n]) delta[n] = d;
  }
}

/** The loop: picks `selected[from ..]`, each the row of largest δ (lowest index on ties). */
function pickFrom(input: CoresetInput, norms: Float32Array, delta: Float32Array, selected: Int32Array, from: number): void {
  for (let t = from; t < selected.length; t++) {
    let c = 0;
    for (let n = 1; n < input.count; n++) if (delta[n] > delta[c]) c = n;
    selected[t] = c;
    update(input, norms, delta, c);
  }
}

export function greedyCoresetReference(input: CoresetInput): Int32Array {
  const norms = squaredNorms(input.y, input.count, input.dim);
  const selected = new Int32Array(input.picks);
  pickFrom(input, norms, startDistances(input, norms, 0, input.count), selected, 0);
  return selected;
}

/**
 * `repair.ts` as plain loops: the first `picks` picks of an earlier run (`first`, over the rows that
 * `keep` now narrows) that `keep` still allows, then the loop of `greedyCoresetReference` until
 * there are `picks`. Removed rows are never picked first.
 */
export function repairCoresetReference(input: CoresetInput, first: Int32Array): Int32Array {
  const norms = squaredNorms(input.y, input.count, input.dim);
  const kept = first.subarray(0, input.picks).filter((r) => input.keep[r] !== 0);
  const delta = startDistances({ ...input, firstPickRespectsMask: true }, norms, 0, input.count);
  for (const c of kept) update(input, norms, delta, c);
  const selected = new Int32Array(input.picks);
  selected.set(kept);
  pickFrom(input, norms, delta, selected, kept.length);
  return selected;
}
