/**
 * Image-level exclusion of the noise report's suspects (`excludeSuspects`): the report says those
 * training photos are defective, so none of their patches may define "normal". Per-patch denoising
 * removes the patches the discriminator finds odd, but a small defect that survives it (or a
 * defect repeated in several injected photos) would otherwise stay in the bank and match the same
 * defect in a test photo at distance ≈ 0.
 */
import type { Bank, BankSet } from '../types.js';

function withoutSources(bank: Bank, images: ReadonlySet<number>): Bank {
  let rows = 0;
  for (let r = 0; r < bank.rows; r++) if (!images.has(bank.sourceImage[r])) rows++;
  // A bank made only of suspects' rows is kept whole: an empty bank cannot score anything.
  if (rows === bank.rows || rows === 0) return bank;
  const { dim } = bank;
  const out: Bank = { rows, dim, features: new Float32Array(rows * dim), weights: new Float32Array(rows), sourceImage: new Int32Array(rows) };
  let m = 0;
  for (let r = 0; r < bank.rows; r++) {
    if (images.has(bank.sourceImage[r])) continue;
    out.features.set(bank.features.subarray(r * dim, (r + 1) * dim), m * dim);
    out.weights[m] = bank.weights[r];
    out.sourceImage[m] = bank.sourceImage[r];
    m++;
  }
  return out;
}

/** The bank set without the memory rows taken from `images` (the same object when none are). */
export function withoutImages(bankSet: BankSet, images: ReadonlySet<number>): BankSet {
  if (images.size === 0) return bankSet;
  const cls = withoutSources(bankSet.cls, images);
  const seg = bankSet.seg === null ? null : withoutSources(bankSet.seg, images);
  if (cls === bankSet.cls && seg === bankSet.seg) return bankSet;
  return { ...bankSet, cls, seg };
}
