/**
 * Keras (TensorFlow.js layers) ResNet topology → ONNX, NCHW, dynamic batch/height/width.
 *
 * Supported layers: InputLayer, Conv2D, BatchNormalization (folded into the preceding conv),
 * Activation(relu), Add, ZeroPadding2D (folded into the next conv/pool pads), MaxPooling2D and,
 * for the classifier, GlobalAveragePooling2D + Dense(softmax).
 *
 * Caffe preprocessing is in the graph: the input is RGB 0..255; the graph subtracts the ImageNet
 * mean and the first convolution's input channels are permuted RGB→BGR (exact, and free).
 */
import { GraphBuilder } from '../../common/onnx-graph.js';
import { conversionError, layerWeight, type KerasLayer, type KerasModel } from './keras-model.js';

/** Caffe means in RGB order (Keras lists them as B 103.939, G 116.779, R 123.68). */
export const CAFFE_MEAN_RGB = [123.68, 116.779, 103.939] as const;

export interface ConvertOptions {
  variant: 'features' | 'classifier';
  /** Feature variant: the two layer tensors, finest first (layer2, layer3). */
  featureLayers?: [string, string];
  inputName?: string;
}

interface Pad {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

function asPairs(v: unknown): [[number, number], [number, number]] {
  if (typeof v === 'number')
    return [
      [v, v],
      [v, v],
    ];
  const a = v as Array<number | number[]>;
  const pair = (x: number | number[]): [number, number] => (Array.isArray(x) ? [x[0], x[1]] : [x, x]);
  return [pair(a[0]), pair(a[1])];
}

function assertChannelsLast(layer: KerasLayer): void {
  const fmt = layer.config.data_format;
  if (fmt !== undefined && fmt !== 'channels_last') throw conversionError(`${layer.name}: data_format ${String(fmt)} is not supported`);
}

/** The layers needed to compute `targets` (the model is topologically ordered in model.json). */
function ancestors(layers: KerasLayer[], targets: string[]): Set<string> {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const keep = new Set<string>();
  const stack = [...targets];
  while (stack.length) {
    const n = stack.pop() as string;
    if (keep.has(n)) continue;
    const l = byName.get(n);
    if (!l) throw conversionError(`unknown layer ${n}`);
    keep.add(n);
    stack.push(...l.inputs);
  }
  return keep;
}

/**
 * Conv weights with an optional BatchNormalization folded in, in float64 then rounded once:
 * W'[o] = W[o]·γ/√(σ²+ε), b'[o] = (b[o] − μ)·γ/√(σ²+ε) + β.
 */
function convWeights(
  model: KerasModel,
  conv: KerasLayer,
  bn: KerasLayer | null,
  permuteInputRgbToBgr: boolean,
): { w: Float32Array; b: Float32Array; dims: number[] } {
  const kernel = layerWeight(model, conv.name, 'kernel'); // [kh, kw, in, out]
  const [kh, kw, cin, cout] = kernel.shape;
  const bias = conv.config.use_bias === false ? new Float32Array(cout) : layerWeight(model, conv.name, 'bias').data;
  const scale = new Float64Array(cout).fill(1);
  const shift = new Float64Array(cout);
  if (bn) {
    const eps = Number(bn.config.epsilon);
    if (!Number.isFinite(eps)) throw conversionError(`${bn.name}: no epsilon`);
    const axis = bn.config.axis as number | number[];
    const ax = Array.isArray(axis) ? axis[0] : axis;
    if (ax !== 3 && ax !== -1) throw conversionError(`${bn.name}: axis ${ax} is not the channel axis`);
    const g = bn.config.scale === false ? null : layerWeight(model, bn.name, 'gamma').data;
    const be = bn.config.center === false ? null : layerWeight(model, bn.name, 'beta').data;
    const mu = layerWeight(model, bn.name, 'moving_mean').data;
    const v = layerWeight(model, bn.name, 'moving_variance').data;
    for (let o = 0; o < cout; o++) {
      scale[o] = (g ? g[o] : 1) / Math.sqrt(v[o] + eps);
      shift[o] = (be ? be[o] : 0) - mu[o] * scale[o];
    }
  }
  const w = new Float32Array(cout * cin * kh * kw);
  for (let o = 0; o < cout; o++) {
    for (let i = 0; i < cin; i++) {
      const src = permuteInputRgbToBgr ? cin - 1 - i : i; // graph channel i (RGB) feeds Keras channel cin−1−i (BGR)
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          w[((o * cin + i) * kh + y) * kw + x] = kernel.data[((y * kw + x) * cin + src) * cout + o] * scale[o];
        }
      }
    }
  }
  const b = new Float32Array(cout);
  for (let o = 0; o < cout; o++) b[o] = bias[o] * scale[o] + shift[o];
  return { w, b, dims: [cout, cin, kh, kw] };
}

/**
 * Appends the SoftPatch patch aggregation in closed form (spec §3.3) for 512/1024 channels:
 * F2 = depthwise 3×3 [[.1,.1,.1],[.1,.2,.1],[.1,.1,.1]] of layer2; F3 = bilinear(half-pixel) resize
 * to layer2's grid of the 3×3 box (1/18) over channel pairs of layer3; output [N, h, w, 1024].
 */
export function appendAggregation(g: GraphBuilder, layer2: string, layer3: string, c2: number, c3: number): string {
  if (c2 !== 512 || c3 !== 1024) throw conversionError(`closed-form aggregation needs 512/1024 channels, got ${c2}/${c3}`);
  const k2 = new Float32Array(c2 * 9);
  for (let c = 0; c < c2; c++) for (let t = 0; t < 9; t++) k2[c * 9 + t] = t === 4 ? 0.2 : 0.1;
  const f2 = g.node('Conv', [layer2, g.constant('agg_l2_kernel', [c2, 1, 3, 3], k2)], {
    group: c2,
    pads: [1, 1, 1, 1],
    kernel_shape: [3, 3],
  });
  // Grouped conv with two input channels per group = pair sum followed by the 3×3 box.
  const k3 = new Float32Array((c3 / 2) * 2 * 9).fill(1 / 18);
  const s3 = g.node('Conv', [layer3, g.constant('agg_l3_kernel', [c3 / 2, 2, 3, 3], k3)], {
    group: c3 / 2,
    pads: [1, 1, 1, 1],
    kernel_shape: [3, 3],
  });
  const sizes = g.node('Shape', [f2]);
  const f3 = g.node('Resize', [s3, '', '', sizes], { mode: 'linear', coordinate_transformation_mode: 'half_pixel' });
  const cat = g.node('Concat', [f2, f3], { axis: 1 });
  return g.node('Transpose', [cat], { perm: [0, 2, 3, 1] }, ['features']);
}

export function convertKerasToOnnx(model: KerasModel, opts: ConvertOptions): Uint8Array {
  const inputName = opts.inputName ?? 'image';
  const layers = model.layers;
  const targets =
    opts.variant === 'features' ? (opts.featureLayers ?? ['activation_21', 'activation_39']) : [layers[layers.length - 1].name];
  const needed = ancestors(layers, targets);
  const consumers = new Map<string, KerasLayer[]>();
  for (const l of layers) for (const i of l.inputs) consumers.set(i, [...(consumers.get(i) ?? []), l]);

  const g = new GraphBuilder(opts.variant === 'features' ? 'resnet50_features' : 'resnet50_classifier');
  const tensor = new Map<string, string>(); // Keras layer → ONNX tensor
  const pending = new Map<string, Pad>(); // ZeroPadding2D outputs not yet materialised
  const channels = new Map<string, number>();
  const folded = new Set<string>(); // BatchNormalization layers folded into their conv
  let first = true;

  const inputOf = (l: KerasLayer, i = 0): { name: string; pad: Pad | null } => {
    const src = l.inputs[i];
    const name = tensor.get(src);
    if (name === undefined) throw conversionError(`${l.name}: input ${src} not converted`);
    return { name, pad: pending.get(src) ?? null };
  };

  for (const l of layers) {
    if (!needed.has(l.name) || folded.has(l.name)) continue;
    assertChannelsLast(l);
    switch (l.className) {
      case 'InputLayer': {
        g.input(inputName, ['N', 3, 'H', 'W']);
        const mean = g.constant('caffe_mean_rgb', [1, 3, 1, 1], Float32Array.from(CAFFE_MEAN_RGB));
        tensor.set(l.name, g.node('Sub', [inputName, mean]));
        channels.set(l.name, 3);
        break;
      }
      case 'ZeroPadding2D': {
        const [[t, b], [le, r]] = asPairs(l.config.padding);
        const prev = pending.get(l.inputs[0]);
        if (prev) throw conversionError(`${l.name}: stacked ZeroPadding2D is not supported`);
        tensor.set(l.name, inputOf(l).name);
        pending.set(l.name, { top: t, bottom: b, left: le, right: r });
        channels.set(l.name, channels.get(l.inputs[0]) as number);
        break;
      }
      case 'Conv2D': {
        const { name, pad } = inputOf(l);
        const next = consumers.get(l.name) ?? [];
        const bn = next.length === 1 && next[0].className === 'BatchNormalization' && needed.has(next[0].name) ? next[0] : null;
        if ((l.config.dilation_rate as number[] | undefined)?.some((d) => d !== 1))
          throw conversionError(`${l.name}: dilation is not supported`);
        if (l.config.activation !== 'linear')
          throw conversionError(`${l.name}: fused activation ${String(l.config.activation)} is not supported`);
        const { w, b, dims } = convWeights(model, l, bn, first);
        first = false;
        const [kh, kw] = l.config.kernel_size as number[];
        const strides = l.config.strides as number[];
        const p = pad ?? { top: 0, bottom: 0, left: 0, right: 0 };
        if (l.config.padding === 'same') {
          if (strides.some((s) => s !== 1) || kh % 2 === 0 || kw % 2 === 0)
            throw conversionError(`${l.name}: "same" padding only with stride 1 and odd kernels`);
          p.top += (kh - 1) / 2;
          p.bottom += (kh - 1) / 2;
          p.left += (kw - 1) / 2;
          p.right += (kw - 1) / 2;
        }
        const out = g.node('Conv', [name, g.constant(`${l.name}_W`, dims, w), g.constant(`${l.name}_B`, [dims[0]], b)], {
          kernel_shape: [kh, kw],
          strides,
          pads: [p.top, p.left, p.bottom, p.right],
        });
        const outLayer = bn ? bn.name : l.name;
        if (bn) folded.add(bn.name);
        tensor.set(outLayer, out);
        channels.set(outLayer, dims[0]);
        break;
      }
      case 'BatchNormalization':
        throw conversionError(`${l.name}: BatchNormalization not preceded by a Conv2D cannot be folded`);
      case 'Activation': {
        if (l.config.activation !== 'relu') throw conversionError(`${l.name}: activation ${String(l.config.activation)} is not supported`);
        tensor.set(l.name, g.node('Relu', [inputOf(l).name], {}, targets.includes(l.name) ? [l.name] : undefined));
        channels.set(l.name, channels.get(l.inputs[0]) as number);
        break;
      }
      case 'Add': {
        const ins = l.inputs.map((_, i) => inputOf(l, i).name);
        let acc = ins[0];
        for (let i = 1; i < ins.length; i++) acc = g.node('Add', [acc, ins[i]]);
        tensor.set(l.name, acc);
        channels.set(l.name, channels.get(l.inputs[0]) as number);
        break;
      }
      case 'MaxPooling2D': {
        // Folding the zero padding into MaxPool pads (which never win the max) is exact here
        // because the pooled tensor follows a ReLU (≥ 0), so a zero pad never wins either.
        const { name, pad } = inputOf(l);
        if (l.config.padding !== 'valid') throw conversionError(`${l.name}: padding ${String(l.config.padding)} is not supported`);
        const p = pad ?? { top: 0, bottom: 0, left: 0, right: 0 };
        tensor.set(
          l.name,
          g.node('MaxPool', [name], {
            kernel_shape: l.config.pool_size as number[],
            strides: l.config.strides as number[],
            pads: [p.top, p.left, p.bottom, p.right],
          }),
        );
        channels.set(l.name, channels.get(l.inputs[0]) as number);
        break;
      }
      case 'GlobalAveragePooling2D': {
        const pooled = g.node('GlobalAveragePool', [inputOf(l).name]);
        tensor.set(l.name, g.node('Flatten', [pooled], { axis: 1 }));
        channels.set(l.name, channels.get(l.inputs[0]) as number);
        break;
      }
      case 'Dense': {
        const k = layerWeight(model, l.name, 'kernel'); // [in, out]
        const bias = layerWeight(model, l.name, 'bias');
        const gemm = g.node('Gemm', [
          inputOf(l).name,
          g.constant(`${l.name}_W`, k.shape, k.data),
          g.constant(`${l.name}_B`, bias.shape, bias.data),
        ]);
        if (l.config.activation === 'softmax') tensor.set(l.name, g.node('Softmax', [gemm], { axis: 1 }, ['probabilities']));
        else throw conversionError(`${l.name}: Dense activation ${String(l.config.activation)} is not supported`);
        channels.set(l.name, k.shape[1]);
        break;
      }
      default:
        throw conversionError(`${l.name}: layer type ${l.className} is not supported`);
    }
  }

  if (opts.variant === 'features') {
    const [l2, l3] = targets;
    const c2 = channels.get(l2) as number;
    const c3 = channels.get(l3) as number;
    appendAggregation(g, tensor.get(l2) as string, tensor.get(l3) as string, c2, c3);
    g.output('features', ['N', 'h', 'w', c2 + c3 / 2]);
    g.output(l2, ['N', c2, 'h', 'w']);
    g.output(l3, ['N', c3, 'h3', 'w3']);
  } else {
    g.output('probabilities', ['N', channels.get(targets[0]) as number]);
  }
  return g.encode(17, `Converted from a Keras model (TensorFlow.js layers format): ${opts.variant}`);
}
