/**
 * The official patch aggregation in its original op order (spec §3.1–§3.2), written plainly and
 * independently of src/ so it can serve as the oracle: unfold 3×3 (zero padding) channel-major →
 * bilinear resize of every unfolded plane to the finest grid → adaptive average pool of the 9·C
 * vector to 1024 → concatenate layers → adaptive pool to 1024.
 */
export interface PlainLayer {
  data: Float32Array;
  c: number;
  h: number;
  w: number;
}

function unfold(l: PlainLayer): Float64Array {
  const out = new Float64Array(9 * l.c * l.h * l.w);
  for (let c = 0; c < l.c; c++)
    for (let ky = 0; ky < 3; ky++)
      for (let kx = 0; kx < 3; kx++) {
        const j = 9 * c + 3 * ky + kx;
        for (let y = 0; y < l.h; y++)
          for (let x = 0; x < l.w; x++) {
            const yy = y + ky - 1,
              xx = x + kx - 1;
            out[(j * l.h + y) * l.w + x] = yy < 0 || yy >= l.h || xx < 0 || xx >= l.w ? 0 : l.data[(c * l.h + yy) * l.w + xx];
          }
      }
  return out;
}

function bilinear1d(nIn: number, nOut: number, o: number): [number, number, number] {
  const src = Math.max(0, ((o + 0.5) * nIn) / nOut - 0.5);
  const i0 = Math.floor(src);
  return [i0, Math.min(i0 + 1, nIn - 1), src - i0];
}

function resize(planes: Float64Array, n: number, h: number, w: number, H: number, W: number): Float64Array {
  const out = new Float64Array(n * H * W);
  for (let p = 0; p < n; p++)
    for (let y = 0; y < H; y++) {
      const [y0, y1, ly] = bilinear1d(h, H, y);
      for (let x = 0; x < W; x++) {
        const [x0, x1, lx] = bilinear1d(w, W, x);
        const at = (yy: number, xx: number) => planes[(p * h + yy) * w + xx];
        const top = (1 - lx) * at(y0, x0) + lx * at(y0, x1);
        const bot = (1 - lx) * at(y1, x0) + lx * at(y1, x1);
        out[(p * H + y) * W + x] = (1 - ly) * top + ly * bot;
      }
    }
  return out;
}

function adaptivePool(u: ArrayLike<number>, T: number): Float64Array {
  const L = u.length;
  const out = new Float64Array(T);
  for (let i = 0; i < T; i++) {
    const s = Math.floor((i * L) / T),
      e = Math.ceil(((i + 1) * L) / T);
    let acc = 0;
    for (let j = s; j < e; j++) acc += u[j];
    out[i] = acc / (e - s);
  }
  return out;
}

/** Returns P × target features (row p = y·w + x on the first layer's grid). */
export function referenceAggregation(layers: PlainLayer[], pretrain = 1024, target = 1024): Float64Array {
  const { h: H, w: W } = layers[0];
  const unfolded = layers.map((l) => {
    const u = unfold(l);
    return l.h === H && l.w === W ? u : resize(u, 9 * l.c, l.h, l.w, H, W);
  });
  const out = new Float64Array(H * W * target);
  for (let p = 0; p < H * W; p++) {
    const cat: number[] = [];
    layers.forEach((l, k) => {
      const v = new Float64Array(9 * l.c);
      for (let j = 0; j < 9 * l.c; j++) v[j] = unfolded[k][j * H * W + p];
      cat.push(...adaptivePool(v, pretrain));
    });
    out.set(adaptivePool(cat, target), p * target);
  }
  return out;
}

export function randomLayer(c: number, h: number, w: number, seed: number): PlainLayer {
  const data = new Float32Array(c * h * w);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 4294967296) * 4 - 1;
  }
  return { data, c, h, w };
}
