/**
 * `trainRotations: "auto"` (the default): whether a line's parts lie at any angle is read off its
 * own training photos. The training photos define normal. Where they show an elongated part at
 * every angle, the angle is not part of normal, and turned views only fill in angles that the
 * photos did not happen to show: the per-position denoising then stops taking rare poses for
 * noise (docs/BENCHMARKS.md, issue 15). Where they show the part one way, the turns stay off, so a
 * part placed the wrong way round remains a defect. Round parts have no axis to read, and their
 * lines keep the photos as they are.
 */
import { type Alignment, type PartAxis, partAxis } from './align.js';
import type { LearnedRotations, TrainRotations } from './rotate.js';
import type { PreparedImage } from './types.js';

/**
 * A photo's part has an axis when √(λ₁/λ₂) of its second moments is at least this: the part is
 * twice as long as it is wide. Far from both kinds of part seen here: bottles seen from above
 * measure 1.02–1.05, screws 5.6–6.0.
 */
export const AXIS_ELONGATION = 2;
/** Share of the photos whose part must have an axis: the same part in most photos, not a stray one. */
export const AXIS_SHARE = 0.75;
/**
 * The axes are spread when the mean resultant length of their doubled angles (1: all parallel, 0:
 * spread evenly) is below this. Angles normally spread with a standard deviation of 30° give about
 * 0.58; uniform angles about 0.9/√n (0.05 on 320 photos).
 */
export const SPREAD_RESULTANT = 0.5;
/** Photos the decision reads: enough to tell uniform angles from one orientation by far. */
export const ORIENTATION_SAMPLE = 64;

export interface OrientationSpread {
  /** Photos read. */
  photos: number;
  /** Of them, those whose part has an axis. */
  withAxis: number;
  /** Mean resultant length of the doubled axis angles of those (null when none has an axis). */
  resultant: number | null;
}

export function orientationSpread(axes: readonly (PartAxis | null)[]): OrientationSpread {
  let c = 0;
  let s = 0;
  let withAxis = 0;
  for (const a of axes) {
    if (a === null || !(a.elongation >= AXIS_ELONGATION)) continue;
    // An axis is a direction modulo π: doubling the angle makes θ and θ + π the same point.
    c += Math.cos(2 * a.angle);
    s += Math.sin(2 * a.angle);
    withAxis++;
  }
  return { photos: axes.length, withAxis, resultant: withAxis > 0 ? Math.hypot(c, s) / withAxis : null };
}

/**
 * Why a build learnt the views it did: `set` (the line names them), `any-angle` (auto: the parts lie
 * at any angle), `one-orientation` (auto: they lie one way), `no-axis` (auto: round parts, or no
 * part told from the background), `not-square` (auto: parts at any angle, but quarter turns need
 * square frames), `aligned` (auto under `align: "axis"`: every photo already shows the part one way),
 * `over-capacity` (auto: the turned views would not fit MAX_BANK_BYTES).
 */
export const TURNS_REASONS = ['set', 'any-angle', 'one-orientation', 'no-axis', 'not-square', 'aligned', 'over-capacity'] as const;
export type TurnsReason = (typeof TURNS_REASONS)[number];

export interface TurnsChoice {
  learned: LearnedRotations;
  reason: TurnsReason;
  /** What `auto` read (null when it read nothing). */
  spread: OrientationSpread | null;
}

/** The views an `auto` line learns, from the spread of its photos' axes. */
export function chooseTurns(spread: OrientationSpread, frame: { square: boolean; turnsFit: boolean }): TurnsChoice {
  const mostHaveAxis = spread.photos > 0 && spread.withAxis >= AXIS_SHARE * spread.photos;
  if (!mostHaveAxis) return { learned: 'none', reason: 'no-axis', spread };
  if ((spread.resultant ?? 1) >= SPREAD_RESULTANT) return { learned: 'none', reason: 'one-orientation', spread };
  if (!frame.square) return { learned: 'none', reason: 'not-square', spread };
  if (!frame.turnsFit) return { learned: 'none', reason: 'over-capacity', spread };
  return { learned: '90', reason: 'any-angle', spread };
}

/** `count` indices spread evenly over `0..n−1` (all of them when n ≤ count). */
export function sampleIndices(n: number, count = ORIENTATION_SAMPLE): number[] {
  if (n <= count) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: count }, (_, i) => Math.floor(((i + 0.5) * n) / count));
}

export interface TurnsInput {
  setting: TrainRotations;
  align: Alignment;
  /** Training photos of the build. */
  photos: number;
  /** Photo i prepared as the build prepares it, without alignment; null when it cannot be read. */
  prepare: (i: number) => Promise<PreparedImage | null>;
  /** Whether the build with quarter turns fits MAX_BANK_BYTES and the memory budget. */
  turnsFit: boolean;
}

/** The views a build learns: the line's setting, or for `auto` what a sample of its photos shows. */
export async function decideTurns(input: TurnsInput): Promise<TurnsChoice> {
  if (input.setting !== 'auto') return { learned: input.setting, reason: 'set', spread: null };
  if (input.align === 'axis') return { learned: 'none', reason: 'aligned', spread: null };
  const axes: (PartAxis | null)[] = [];
  let square = true;
  for (const i of sampleIndices(input.photos)) {
    const img = await input.prepare(i);
    if (img === null) continue;
    square &&= img.width === img.height;
    axes.push(partAxis(img));
  }
  return chooseTurns(orientationSpread(axes), { square, turnsFit: input.turnsFit });
}
