/**
 * Turbo colour map (Anton Mikhailov, Google, 2019; Apache-2.0), evaluated from its published
 * polynomial approximation (Ruofei Du's GLSL version, 5th-degree polynomial per channel) into a
 * 256-entry RGB lookup table at load time, so that no table of 768 magic numbers has to be checked
 * in. It follows the original 256-entry LUT closely through the body of the map and departs most
 * at the dark ends (t = 0 is a dark brown-grey rather than the LUT's dark violet).
 */

const RED = [0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943];
const GREEN = [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604];
const BLUE = [0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973];

function polynomial(c: number[], x: number): number {
  let v = 0;
  for (let k = c.length - 1; k >= 0; k--) v = v * x + c[k];
  return v;
}

const toByte = (v: number): number => Math.round(255 * Math.min(1, Math.max(0, v)));

/** 256 × RGB bytes: entry k is the colour of t = k/255. */
/** The colour map heatmaps are drawn with (recorded in each bank's colour scale). */
export const COLORMAP = 'turbo';

export const TURBO_LUT: Uint8Array = (() => {
  const lut = new Uint8Array(256 * 3);
  for (let k = 0; k < 256; k++) {
    const x = k / 255;
    lut[3 * k] = toByte(polynomial(RED, x));
    lut[3 * k + 1] = toByte(polynomial(GREEN, x));
    lut[3 * k + 2] = toByte(polynomial(BLUE, x));
  }
  return lut;
})();

/** LUT index of t ∈ [0, 1] (clamped; NaN maps to 0). */
export function lutIndex(t: number): number {
  return t > 0 ? Math.round(Math.min(t, 1) * 255) : 0;
}

/** RGB bytes of t ∈ [0, 1] on the turbo scale. */
export function turbo(t: number): [number, number, number] {
  const k = 3 * lutIndex(t);
  return [TURBO_LUT[k], TURBO_LUT[k + 1], TURBO_LUT[k + 2]];
}
