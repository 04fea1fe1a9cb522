/**
 * SoftPatch patch aggregation (spec §3.1–§3.2) for any number of layers and channel counts, used
 * for backbones whose manifest lists raw layer outputs. The default backbone has the closed form
 * of §3.3 in its graph instead; tests check that both agree.
 *
 * Order of operations: per layer, gather the 3×3 neighbourhood (zero padding) channel-major and
 * adaptive-average-pool the 9·C taps to `pretrainDim`; bring coarser layers to the finest grid with
 * PyTorch's bilinear (align_corners=False) rule (it commutes with the per-tap pooling, both being
 * linear per position); concatenate the layers and pool K·pretrainDim → `targetDim`.
 */

export interface LayerMap {
  /** Planar (C, h, w) float32. */
  data: Float32Array;
  channels: number;
  h: number;
  w: number;
}

/** Adaptive average pooling bins of length L into T (PyTorch rule, integer arithmetic). */
export function adaptiveBins(L: number, T: number): { start: Int32Array; end: Int32Array } {
  const start = new Int32Array(T);
  const end = new Int32Array(T);
  for (let i = 0; i < T; i++) {
    start[i] = Math.floor((i * L) / T);
    end[i] = Math.floor(((i + 1) * L + T - 1) / T);
  }
  return { start, end };
}

/** Per-position 3×3 gather + pool to `dim`: output planar (dim, h, w). */
function poolLayer(layer: LayerMap, dim: number): Float32Array {
  const { data, channels: C, h, w } = layer;
  const bins = adaptiveBins(9 * C, dim);
  const out = new Float32Array(dim * h * w);
  const taps = new Float32Array(9 * C);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < C; c++) {
        for (let ky = 0; ky < 3; ky++) {
          for (let kx = 0; kx < 3; kx++) {
            const yy = y + ky - 1;
            const xx = x + kx - 1;
            taps[9 * c + 3 * ky + kx] = yy < 0 || yy >= h || xx < 0 || xx >= w ? 0 : data[(c * h + yy) * w + xx];
          }
        }
      }
      for (let i = 0; i < dim; i++) {
        let s = 0;
        for (let j = bins.start[i]; j < bins.end[i]; j++) s += taps[j];
        out[(i * h + y) * w + x] = s / (bins.end[i] - bins.start[i]);
      }
    }
  }
  return out;
}

/** PyTorch bilinear, align_corners=False, per plane: (planes, inH, inW) → (planes, outH, outW). */
export function resizePlanesBilinear(
  src: Float32Array,
  planes: number,
  inH: number,
  inW: number,
  outH: number,
  outW: number,
): Float32Array {
  const axis = (nIn: number, nOut: number) => {
    const i0 = new Int32Array(nOut),
      i1 = new Int32Array(nOut),
      l = new Float32Array(nOut);
    for (let o = 0; o < nOut; o++) {
      const s = Math.max(0, ((o + 0.5) * nIn) / nOut - 0.5);
      i0[o] = Math.min(Math.floor(s), nIn - 1);
      i1[o] = Math.min(i0[o] + 1, nIn - 1);
      l[o] = s - i0[o];
    }
    return { i0, i1, l };
  };
  const ay = axis(inH, outH),
    ax = axis(inW, outW);
  const out = new Float32Array(planes * outH * outW);
  for (let p = 0; p < planes; p++) {
    const base = p * inH * inW;
    for (let y = 0; y < outH; y++) {
      const r0 = base + ay.i0[y] * inW,
        r1 = base + ay.i1[y] * inW,
        ly = ay.l[y];
      for (let x = 0; x < outW; x++) {
        const a = src[r0 + ax.i0[x]] * (1 - ax.l[x]) + src[r0 + ax.i1[x]] * ax.l[x];
        const b = src[r1 + ax.i0[x]] * (1 - ax.l[x]) + src[r1 + ax.i1[x]] * ax.l[x];
        out[(p * outH + y) * outW + x] = a * (1 - ly) + b * ly;
      }
    }
  }
  return out;
}

/** Patch features (P × targetDim, row p = y·w + x on the first layer's grid). */
export function aggregateLayers(layers: LayerMap[], pretrainDim = 1024, targetDim = 1024): Float32Array {
  const { h, w } = layers[0];
  const P = h * w;
  const pooled = layers.map((l) => {
    const p = poolLayer(l, pretrainDim);
    return l.h === h && l.w === w ? p : resizePlanesBilinear(p, pretrainDim, l.h, l.w, h, w);
  });
  const L = layers.length * pretrainDim;
  const bins = adaptiveBins(L, targetDim);
  const out = new Float32Array(P * targetDim);
  for (let p = 0; p < P; p++) {
    for (let i = 0; i < targetDim; i++) {
      let s = 0;
      for (let j = bins.start[i]; j < bins.end[i]; j++) s += pooled[Math.floor(j / pretrainDim)][(j % pretrainDim) * P + p];
      out[p * targetDim + i] = s / (bins.end[i] - bins.start[i]);
    }
  }
  return out;
}
