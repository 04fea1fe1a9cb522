/**
 * The onnxruntime graphs behind nearest-row search, built in code, and their sessions. Callers see
 * typed arrays only. Shapes are symbolic in the row counts, so one session serves every bank of a
 * feature dimension; sessions are cached per graph, dimension and thread count for the process.
 */
import ort from 'onnxruntime-node';
import { GraphBuilder, onnx } from '../../common/onnx-graph.js';

const INT64 = onnx.TensorProto.DataType.INT64;

export const DEFAULT_THREADS = 2;

const sessions = new Map<string, Promise<ort.InferenceSession>>();

/**
 * `arena`: per-query search sessions keep onnxruntime's arena (see below); one-off work (a bank's
 * index, clustering, calibration matrices) runs without it, so its large buffers go back to the
 * allocator instead of staying reserved for the life of the process.
 */
function cachedSession(key: string, threads: number, build: () => GraphBuilder, arena = true): Promise<ort.InferenceSession> {
  const fullKey = `${key}/t${threads}`;
  let s = sessions.get(fullKey);
  if (s === undefined) {
    s = ort.InferenceSession.create(build().encode(), {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // The arena keeps the key matrices' buffers between runs: without it every run maps, faults in
      // and unmaps tens of MB, which cost the search four times its arithmetic. Runs are bounded
      // (search/gemm.ts CHUNK_ELEMENTS), so the arena stays small.
      enableCpuMemArena: arena,
      // Several sessions share two cores: idle pools must sleep, not spin against the busy one.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    sessions.set(fullKey, s);
    s.catch(() => sessions.delete(fullKey));
  }
  return s;
}

/** `key[i, r] = bn[r] − 2·q_i·b_r`, then the `k` smallest keys per query, ascending (TopK, k an input). */
function addGemmTopK(g: GraphBuilder, q: string, b: string, bn: string, k: string): void {
  const key = g.node('Gemm', [q, b, bn], { alpha: { float: -2 }, beta: { float: 1 }, transB: 1 });
  g.node('TopK', [key, k], { axis: 1, largest: 0, sorted: 1 }, ['values', 'indices']);
  g.output('values', ['n', 'k']);
  g.output('indices', ['n', 'k'], INT64);
}

/**
 * Augmented projection `x' = [P(x − μ); ‖(I − PᵀP)(x − μ)‖]` and `‖x'‖²` (= ‖x − μ‖² up to
 * rounding). For orthonormal P, ‖q' − b'‖² ≤ ‖q − b‖²: the first block is a projection, and
 * the residual norms differ by at most the norm of the residual difference.
 */
function addProjection(g: GraphBuilder, dim: number, pdim: number, x: string): { aug: string; n2: string } {
  const mu = g.input('mu', [1, dim]);
  const pt = g.input('pt', [dim, pdim]);
  const p = g.input('p', [pdim, dim]);
  const xc = g.node('Sub', [x, mu]);
  const y = g.node('MatMul', [xc, pt]);
  const residual = g.node('Sub', [xc, g.node('MatMul', [y, p])]);
  const rn = g.node('Sqrt', [g.node('ReduceSumSquare', [residual], { axes: [1], keepdims: 1 })]);
  const aug = g.node('Concat', [y, rn], { axis: 1 });
  const n2 = g.node('ReduceSumSquare', [aug], { axes: [1], keepdims: 1 });
  return { aug, n2 };
}

/** Top-k keys against the full-dimension bank. */
export interface TopKResult {
  values: Float32Array;
  indices: BigInt64Array;
}

/** Projected top-k plus each query's ‖q'‖². */
export interface ProjectedTopKResult extends TopKResult {
  queryNorm2: Float32Array;
}

/** A bank (or its augmented projection) as a Gemm operand, made once per bank. */
export interface BankTensors {
  features: ort.Tensor;
  rows: number;
  dim: number;
}

/**
 * `a[from .. to)` as an array onnxruntime accepts: onnxruntime-node refuses tensors over a
 * SharedArrayBuffer ("Invalid argument"), so such ranges are copied; others are views.
 */
export function privateRows(a: Float32Array, from = 0, to = a.length): Float32Array {
  const view = a.subarray(from, to);
  return view.buffer instanceof SharedArrayBuffer ? view.slice() : view;
}

export function bankTensors(features: Float32Array, rows: number, dim: number): BankTensors {
  return { features: new ort.Tensor('float32', privateRows(features, 0, rows * dim), [rows, dim]), rows, dim };
}

function kTensor(k: number): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.of(BigInt(k)), [1]);
}

/** The `k` smallest `‖b‖² − 2q·b` per query (rows with norm2 = Infinity never win). */
export async function gemmTopK(
  bank: BankTensors,
  norm2: Float32Array,
  queries: Float32Array,
  nq: number,
  k: number,
  threads: number,
): Promise<TopKResult> {
  const dim = bank.dim;
  const session = await cachedSession(`gemm-topk/${dim}`, threads, () => {
    const g = new GraphBuilder('gemm_topk');
    addGemmTopK(g, g.input('q', ['n', dim]), g.input('b', ['m', dim]), g.input('bn', [1, 'm']), g.input('k', [1], INT64));
    return g;
  });
  const out = await session.run({
    q: new ort.Tensor('float32', queries.subarray(0, nq * dim), [nq, dim]),
    b: bank.features,
    bn: new ort.Tensor('float32', norm2, [1, bank.rows]),
    k: kTensor(k),
  });
  return { values: out.values.data as Float32Array, indices: out.indices.data as BigInt64Array };
}

/** Projection matrices and centre, as tensors made once per bank. */
export interface ProjectionTensors {
  dim: number;
  pdim: number;
  mu: ort.Tensor;
  pt: ort.Tensor;
  p: ort.Tensor;
}

export function projectionTensors(mu: Float32Array, p: Float32Array, dim: number, pdim: number): ProjectionTensors {
  const pt = new Float32Array(dim * pdim);
  for (let i = 0; i < pdim; i++) for (let j = 0; j < dim; j++) pt[j * pdim + i] = p[i * dim + j];
  return {
    dim,
    pdim,
    mu: new ort.Tensor('float32', mu, [1, dim]),
    pt: new ort.Tensor('float32', pt, [dim, pdim]),
    p: new ort.Tensor('float32', p, [pdim, dim]),
  };
}

/**
 * Augmented projections of `n` rows: `aug` is n × (pdim + 1), `norm2` their squared norms.
 * `perQuery`: a search's queries, run on a session that keeps its arena (see `cachedSession`);
 * otherwise a bank's rows, once.
 */
export async function projectRows(
  proj: ProjectionTensors,
  x: Float32Array,
  n: number,
  threads: number,
  perQuery = false,
): Promise<{ aug: Float32Array; norm2: Float32Array }> {
  const { dim, pdim } = proj;
  const session = await cachedSession(
    `project${perQuery ? '-queries' : ''}/${dim}x${pdim}`,
    threads,
    () => {
      const g = new GraphBuilder('project');
      const { aug, n2 } = addProjection(g, dim, pdim, g.input('x', ['n', dim]));
      g.node('Identity', [aug], {}, ['aug']);
      g.node('Identity', [n2], {}, ['norm2']);
      g.output('aug', ['n', pdim + 1]);
      g.output('norm2', ['n', 1]);
      return g;
    },
    perQuery,
  );
  const out = await session.run({ x: new ort.Tensor('float32', x.subarray(0, n * dim), [n, dim]), mu: proj.mu, pt: proj.pt, p: proj.p });
  return { aug: out.aug.data as Float32Array, norm2: out.norm2.data as Float32Array };
}

/**
 * `P(x − μ)` of `n` rows (n × pdim): one product, for queries whose residual norm the caller takes
 * from the norms (search/fast.ts); on a session that keeps its arena.
 */
export async function projectCoordinates(proj: ProjectionTensors, x: Float32Array, n: number, threads: number): Promise<Float32Array> {
  const { dim, pdim } = proj;
  const session = await cachedSession(`project-coordinates/${dim}x${pdim}`, threads, () => {
    const g = new GraphBuilder('project_coordinates');
    const xc = g.node('Sub', [g.input('x', ['n', dim]), g.input('mu', [1, dim])]);
    g.node('MatMul', [xc, g.input('pt', [dim, pdim])], {}, ['y']);
    g.output('y', ['n', pdim]);
    return g;
  });
  const out = await session.run({ x: new ort.Tensor('float32', x.subarray(0, n * dim), [n, dim]), mu: proj.mu, pt: proj.pt });
  return out.y.data as Float32Array;
}

/** Projects the queries in the graph and returns the `k` smallest projected keys against the augmented bank. */
export async function projectedTopK(
  proj: ProjectionTensors,
  augBank: BankTensors,
  augNorm2: Float32Array,
  queries: Float32Array,
  nq: number,
  k: number,
  threads: number,
): Promise<ProjectedTopKResult> {
  const { dim, pdim } = proj;
  const session = await cachedSession(`projected-topk/${dim}x${pdim}`, threads, () => {
    const g = new GraphBuilder('projected_topk');
    const { aug, n2 } = addProjection(g, dim, pdim, g.input('q', ['n', dim]));
    g.node('Identity', [n2], {}, ['qn2']);
    g.output('qn2', ['n', 1]);
    addGemmTopK(g, aug, g.input('b', ['m', pdim + 1]), g.input('bn', [1, 'm']), g.input('k', [1], INT64));
    return g;
  });
  const out = await session.run({
    q: new ort.Tensor('float32', queries.subarray(0, nq * dim), [nq, dim]),
    mu: proj.mu,
    pt: proj.pt,
    p: proj.p,
    b: augBank.features,
    bn: new ort.Tensor('float32', augNorm2, [1, augBank.rows]),
    k: kTensor(k),
  });
  return {
    values: out.values.data as Float32Array,
    indices: out.indices.data as BigInt64Array,
    queryNorm2: out.qn2.data as Float32Array,
  };
}

/** `a · b` for row-major `a` (m × kk) and `b` (kk × n). */
export async function matmul(a: Float32Array, b: Float32Array, m: number, kk: number, n: number, threads: number): Promise<Float32Array> {
  const session = await cachedSession(
    'matmul',
    threads,
    () => {
      const g = new GraphBuilder('matmul');
      g.node('MatMul', [g.input('a', ['m', 'k']), g.input('b', ['k', 'n'])], {}, ['c']);
      g.output('c', ['m', 'n']);
      return g;
    },
    false,
  );
  const out = await session.run({ a: new ort.Tensor('float32', a, [m, kk]), b: new ort.Tensor('float32', b, [kk, n]) });
  return out.c.data as Float32Array;
}
