import assert from 'node:assert/strict';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { aggregateLayers, adaptiveBins } from '../../src/backbone/aggregate.js';
import { appendAggregation } from '../../src/backbone/convert/to-onnx.js';
import { GraphBuilder } from '../../src/common/onnx-graph.js';
import { randomLayer, referenceAggregation } from '../helpers/reference-aggregation.js';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('adaptive pooling bins follow the PyTorch rule (overlapping and repeating bins)', () => {
  const b = adaptiveBins(5, 3); // floor(i·5/3) .. ceil((i+1)·5/3)
  assert.deepEqual([...b.start], [0, 1, 3]);
  assert.deepEqual([...b.end], [2, 4, 5]);
  const r = adaptiveBins(2, 4); // L < T: elements repeat
  assert.deepEqual([...r.start], [0, 0, 1, 1]);
  assert.deepEqual([...r.end], [1, 1, 2, 2]);
});

test('in-graph closed form equals the reference op order on random tensors', async () => {
  const l2 = randomLayer(512, 8, 6, 1);
  const l3 = randomLayer(1024, 4, 3, 2);
  const g = new GraphBuilder('aggregation');
  g.input('layer2', ['N', 512, 'h', 'w']);
  g.input('layer3', ['N', 1024, 'h3', 'w3']);
  appendAggregation(g, 'layer2', 'layer3', 512, 1024);
  g.output('features', ['N', 'h', 'w', 1024]);
  const session = await ort.InferenceSession.create(g.encode());
  const out = await session.run({
    layer2: new ort.Tensor('float32', l2.data, [1, 512, 8, 6]),
    layer3: new ort.Tensor('float32', l3.data, [1, 1024, 4, 3]),
  });
  await session.release();
  assert.deepEqual(out.features.dims, [1, 8, 6, 1024]);
  const ref = referenceAggregation([l2, l3]);
  assert.ok(maxAbsDiff(out.features.data as Float32Array, ref) < 1e-5, 'closed form differs from the reference');
});

test('generic TypeScript aggregation equals the reference for other channel counts and layer counts', () => {
  const layers = [randomLayer(24, 6, 6, 3), randomLayer(40, 3, 3, 4), randomLayer(7, 2, 2, 5)];
  const ours = aggregateLayers(
    layers.map((l) => ({ data: l.data, channels: l.c, h: l.h, w: l.w })),
    64,
    32,
  );
  const ref = referenceAggregation(layers, 64, 32);
  assert.ok(maxAbsDiff(ours, ref) < 1e-5);
});

test('generic TypeScript aggregation equals the closed form for 512/1024 channels', () => {
  const l2 = randomLayer(512, 4, 4, 6);
  const l3 = randomLayer(1024, 2, 2, 7);
  const ours = aggregateLayers([
    { data: l2.data, channels: 512, h: 4, w: 4 },
    { data: l3.data, channels: 1024, h: 2, w: 2 },
  ]);
  assert.ok(maxAbsDiff(ours, referenceAggregation([l2, l3])) < 1e-5);
});
