/**
 * SoftPatch+ score fusion (spec §7.2): several discriminators' raw scores → one score `u_n` in
 * [0, 1] (rank / maxRank) or a mean of min-max normalised scores.
 */
import type { PlusConfig } from '../types.js';

/**
 * 0-based ranks of `values[start + i·stride]`, `i < count`, ties given their average rank, divided
 * by `count − 1` (0 when `count = 1`), written to the same places of `out`.
 */
function normalisedRanks(values: Float64Array, start: number, stride: number, count: number, out: Float64Array): void {
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  order.sort((a, b) => values[start + a * stride] - values[start + b * stride] || a - b);
  const scale = count > 1 ? 1 / (count - 1) : 0;
  let i = 0;
  while (i < count) {
    let j = i;
    const v = values[start + order[i] * stride];
    while (j + 1 < count && values[start + order[j + 1] * stride] === v) j++;
    const rank = ((i + j) / 2) * scale;
    for (let m = i; m <= j; m++) out[start + order[m] * stride] = rank;
    i = j + 1;
  }
}

/** Normalised ranks over all N scores (`global`) or among the `images` patches of each position. */
export function ranks(values: Float64Array, scope: PlusConfig['rankScope'], images: number, patches: number): Float64Array {
  const out = new Float64Array(values.length);
  if (scope === 'global') normalisedRanks(values, 0, 1, values.length, out);
  else for (let p = 0; p < patches; p++) normalisedRanks(values, p, patches, images, out);
  return out;
}

function minMax(values: Float64Array): Float64Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Float64Array(values.length);
  if (hi > lo) for (let n = 0; n < values.length; n++) out[n] = (values[n] - lo) / (hi - lo);
  return out;
}

/** Fused score `u` (length N) from each discriminator's raw scores, in the configured order. */
export function fuseScores(
  scores: readonly Float64Array[],
  plus: Pick<PlusConfig, 'fusion' | 'rankScope'>,
  images: number,
  patches: number,
): Float64Array {
  const parts = scores.map((s) => (plus.fusion === 'minmax' ? minMax(s) : ranks(s, plus.rankScope, images, patches)));
  const u = new Float64Array(parts[0].length);
  if (plus.fusion === 'maxRank') {
    u.set(parts[0]);
    for (const part of parts.slice(1)) for (let n = 0; n < u.length; n++) u[n] = Math.max(u[n], part[n]);
  } else {
    for (const part of parts) for (let n = 0; n < u.length; n++) u[n] += part[n];
    for (let n = 0; n < u.length; n++) u[n] /= parts.length;
  }
  return u;
}
