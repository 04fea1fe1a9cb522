/**
 * Fast weighted greedy coreset (spec §5) with the same picks as `greedyCoresetReference`. Either
 * one `CoresetPartition` in this thread (small inputs, tests) or one per worker thread over
 * SharedArrayBuffers, where every pick costs one barrier: each worker publishes its local argmax,
 * all merge them the same way (largest δ, lowest index) and update the rows they hold (the groups
 * of every W-th pick, see `partition.ts`). Pruning leaves 0.2-0.4 % of the N·M distances to
 * compute on real features (more on data of high intrinsic dimension).
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { appError } from '../../common/errors.js';
import { type CoresetInput, squaredNorms } from './metric.js';
import {
  type Argmax,
  BASIS_BLOCK,
  type CoresetExchange,
  type CoresetShared,
  CoresetPartition,
  type CoresetBounds,
  type CoresetState,
  newExchange,
  type PartitionCounters,
} from './partition.js';
import { principalSubspace } from '../kernels/linalg.js';
import { sharedCopy } from '../kernels/thread-lane.js';

export interface CoresetOptions {
  /** Worker threads (default: up to 2, the cores this service is sized for); 1 = this thread. */
  threads?: number;
  /** Called now and then with the number of picks made. */
  onProgress?(done: number, total: number): void;
  signal?: AbortSignal;
  /** Directions of the cheap lower bounds (default 32). */
  basisDim?: number;
}

export interface CoresetResult {
  /** Picked rows, in pick order. */
  selected: Int32Array;
  counters: PartitionCounters;
  /** Every row's δ and centre after the last pick, and the run's bounds: what `repairCoreset` starts from. */
  state: CoresetState;
  bounds: CoresetBounds;
  /** Worker threads used (1 = this thread). */
  threads: number;
}

/** Below this many rows worker start-up costs more than it saves. */
const MIN_ROWS_FOR_WORKERS = 20_000;
/** 32 directions: on real features the row bound then settles ~85 % of the rows the triangle tests leave. */
const DEFAULT_BASIS_DIM = 32;
const U = 2 ** -24;

/** Layout of the control words shared with the workers. */
export const CTL = { GEN: 0, ARRIVED: 1, FAILED: 2, LENGTH: 3 } as const;

/** What a worker needs besides the shared arrays. */
export interface WorkerSetup {
  y: Float32Array;
  keep: Uint8Array;
  norms: Float32Array;
  control: Int32Array;
  /** Two slots (pick parity) × workers × (value, index). */
  results: Float64Array;
  selected: Int32Array;
  exchange: CoresetExchange;
  /** Filled by the workers at the end (`CoresetPartition.finish`). */
  state: CoresetState;
  count: number;
  dim: number;
  picks: number;
  startPoints: Int32Array;
  firstPickRespectsMask: boolean;
  basis: Float64Array;
  basisDim: number;
  eps2: number;
  basisSlack: number;
  lo: number;
  hi: number;
  id: number;
  workers: number;
}

export type WorkerMessage = { type: 'progress'; done: number } | { type: 'done'; counters: PartitionCounters };

async function sharedState(input: CoresetInput, norms: Float32Array, basisDim: number): Promise<CoresetShared> {
  let maxNorm = 0;
  for (const v of norms) if (v > maxNorm) maxNorm = v;
  // Principal directions make the bound tight, largest variance first so its early exit triggers
  // soon; any orthonormal basis keeps it valid. Fixed internal seed: the basis never changes the picks.
  const { basis, k } = await principalSubspace(input.y, input.count, input.dim, basisDim, { seed: 0x5eed, iterations: 12 });
  // Zero rows pad the basis to whole blocks: they add 0, exactly, to every bound.
  const padded = Math.ceil(k / BASIS_BLOCK) * BASIS_BLOCK;
  const rows = new Float64Array(padded * input.dim);
  rows.set(basis.subarray(0, k * input.dim));
  // Row basis coordinates are stored in float32 (error ≤ u·‖y‖ each); pick coordinates in float64.
  const basisSlack = (Math.sqrt(k) * 1.1 * U + 1e-10) * Math.sqrt(maxNorm);
  return { input, norms, basis: rows, basisDim: padded, eps2: 16 * U * maxNorm, basisSlack };
}

/** Largest value, lowest index on ties; ranges without rows report index −1. */
export function mergeArgmax(parts: readonly Argmax[]): Argmax {
  let best: Argmax = { value: -Infinity, index: -1 };
  for (const a of parts) {
    if (a.index < 0) continue;
    if (a.value > best.value || (a.value === best.value && a.index < best.index)) best = a;
  }
  return { ...best };
}

function checkInput(input: CoresetInput): void {
  const { y, count, dim, keep, picks, startPoints } = input;
  const problems: string[] = [];
  if (!(count >= 1 && dim >= 1 && y.length === count * dim)) problems.push(`y holds ${y.length} values, expected ${count} × ${dim}`);
  if (keep.length !== count) problems.push(`keep mask has ${keep.length} entries, expected ${count}`);
  if (!(Number.isInteger(picks) && picks >= 1)) problems.push(`picks must be a positive integer, got ${picks}`);
  if (startPoints.length === 0 || startPoints.some((s) => s < 0 || s >= count)) problems.push('start points must be non-empty row indices');
  if (problems.length > 0) throw appError('ENGINE_INPUT', [problems.join('; ')]);
}

function cancelled(): Error {
  return appError('CANCELLED', ['build cancelled']);
}

export async function greedyCoreset(input: CoresetInput, opts: CoresetOptions = {}): Promise<CoresetResult> {
  checkInput(input);
  if (opts.signal?.aborted) throw cancelled();
  const threads = Math.max(1, Math.min(opts.threads ?? Math.min(2, os.availableParallelism()), Math.ceil(input.count / 1024)));
  const useWorkers = threads > 1 && input.count >= MIN_ROWS_FOR_WORKERS;
  return useWorkers ? coresetInWorkers(input, threads, opts) : coresetInThisThread(input, opts);
}

function boundsOf(shared: CoresetShared): CoresetBounds {
  return { norms: shared.norms, basis: shared.basis, basisDim: shared.basisDim, eps2: shared.eps2, basisSlack: shared.basisSlack };
}

/** State arrays for `finish`: rows no group holds at the end are removed rows (centre −2). */
function newState(count: number, memory: (bytes: number) => ArrayBufferLike): CoresetState {
  const centre = new Int32Array(memory(count * 4)).fill(-2);
  return { delta: new Float32Array(memory(count * 4)), centre };
}

async function coresetInThisThread(input: CoresetInput, opts: CoresetOptions): Promise<CoresetResult> {
  const norms = squaredNorms(input.y, input.count, input.dim);
  const shared = await sharedState(input, norms, opts.basisDim ?? DEFAULT_BASIS_DIM);
  const exchange = newExchange(input.count, shared.basisDim, 1, (bytes) => new ArrayBuffer(bytes));
  const part = new CoresetPartition(shared, exchange, { lo: 0, hi: input.count, id: 0, workers: 1 });
  const selected = new Int32Array(input.picks);
  let lastYield = performance.now();
  for (let t = 0; t < input.picks; t++) {
    const pick = part.argmax();
    selected[t] = pick.index;
    part.update(pick.index);
    if (performance.now() - lastYield > 20) {
      // Let the event loop see an abort or deliver progress.
      await yieldToLoop();
      lastYield = performance.now();
      if (opts.signal?.aborted) throw cancelled();
      opts.onProgress?.(t + 1, input.picks);
    }
  }
  const state = newState(input.count, (bytes) => new ArrayBuffer(bytes));
  part.finish(state);
  opts.onProgress?.(input.picks, input.picks);
  return { selected, counters: part.counters, state, bounds: boundsOf(shared), threads: 1 };
}

async function coresetInWorkers(input: CoresetInput, workers: number, opts: CoresetOptions): Promise<CoresetResult> {
  const { count, dim, picks } = input;
  const y = sharedCopy(input.y, (b) => new Float32Array(b));
  const keep = sharedCopy(input.keep, (b) => new Uint8Array(b));
  const norms = sharedCopy(squaredNorms(y, count, dim), (b) => new Float32Array(b));
  const shared = await sharedState({ ...input, y, keep }, norms, opts.basisDim ?? DEFAULT_BASIS_DIM);
  const control = new Int32Array(new SharedArrayBuffer(CTL.LENGTH * 4));
  const results = new Float64Array(new SharedArrayBuffer(2 * workers * 2 * 8));
  const selected = new Int32Array(new SharedArrayBuffer(picks * 4));
  const exchange = newExchange(count, shared.basisDim, workers, (bytes) => new SharedArrayBuffer(bytes));
  const state = newState(count, (bytes) => new SharedArrayBuffer(bytes));
  const url = new URL('./worker.js', import.meta.url);
  const threads: Worker[] = [];
  const counters: PartitionCounters = { pointDistances: 0, centreDistances: 0 };

  await new Promise<void>((resolve, reject) => {
    let finished = 0;
    let settled = false;
    const stop = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      if (err) {
        Atomics.store(control, CTL.FAILED, 1);
        Atomics.notify(control, CTL.GEN);
        for (const w of threads) void w.terminate();
        reject(err);
      } else resolve();
    };
    const onAbort = (): void => stop(cancelled());
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    for (let id = 0; id < workers; id++) {
      const setup: WorkerSetup = {
        y,
        keep,
        norms,
        control,
        results,
        selected,
        exchange,
        state,
        count,
        dim,
        picks,
        startPoints: input.startPoints,
        firstPickRespectsMask: input.firstPickRespectsMask,
        basis: shared.basis,
        basisDim: shared.basisDim,
        eps2: shared.eps2,
        basisSlack: shared.basisSlack,
        lo: Math.floor((count * id) / workers),
        hi: Math.floor((count * (id + 1)) / workers),
        id,
        workers,
      };
      const w = new Worker(url, { workerData: setup });
      threads.push(w);
      w.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'progress') opts.onProgress?.(msg.done, picks);
        else {
          counters.pointDistances += msg.counters.pointDistances;
          counters.centreDistances += msg.counters.centreDistances;
          if (++finished === workers) stop(null);
        }
      });
      w.on('error', (err) => stop(appError('INTERNAL', [`coreset worker failed: ${err.message}`])));
      w.on('exit', (code) => {
        if (!settled && code !== 0) stop(appError('INTERNAL', [`coreset worker exited with code ${code}`]));
      });
    }
  });
  opts.onProgress?.(picks, picks);
  return { selected: Int32Array.from(selected), counters, state, bounds: boundsOf(shared), threads: workers };
}
