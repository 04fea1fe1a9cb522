/**
 * Bank rows in a shared WebAssembly memory, and the exact distance computed on them there
 * (wasm/exact.as.ts): the float64 sum of `exactDist2Below` bit for bit, two lanes at a time.
 *
 * The memory is the bank's only copy. Its buffer is a SharedArrayBuffer, so every thread reads the
 * same rows, and a thread that is sent the memory object (it crosses postMessage like the
 * buffer) can run the kernel on them. Before the rows it holds `QUERY_SLOTS` query slots, one per
 * kernel instance at a time, claimed with an atomic flag.
 */
import { kernelModule } from './wasm-kernel.js';

const PAGE = 65536;
/** Kernels that can hold a bank's memory at once (searchers in every thread, lanes included). */
const QUERY_SLOTS = 64;
/** The slot flags (one int32 each), then the slots. */
const FLAGS_BYTES = 1024;
/** The largest memory a 32-bit WebAssembly module addresses. */
const MAX_PAGES = 65536;

const wasm = kernelModule('exact');

interface ExactExports {
  dist2Below(query: number, row: number, dim: number, limit: number): number;
}

/** Rows of `dim` floats in shared memory. */
export interface RowMemory {
  /** The rows: a view of `memory`'s buffer after the query slots, or a plain SharedArrayBuffer. */
  features: Float32Array;
  /** The shared WebAssembly memory of `features`; null when the rows are too many for one. */
  memory: WebAssembly.Memory | null;
}

const slotBytes = (dim: number): number => Math.ceil((dim * 4) / 16) * 16;

/**
 * Zeroed shared rows for `rows` × `dim` floats: in a WebAssembly memory, or, beyond what
 * WebAssembly addresses, in a plain SharedArrayBuffer (searched in JavaScript).
 */
export function sharedRows(rows: number, dim: number): RowMemory {
  const at = FLAGS_BYTES + QUERY_SLOTS * slotBytes(dim);
  const pages = Math.ceil((at + rows * dim * 4) / PAGE);
  if (pages > MAX_PAGES) return { features: new Float32Array(new SharedArrayBuffer(rows * dim * 4)), memory: null };
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  return { features: new Float32Array(memory.buffer, at, rows * dim), memory };
}

/** The bank fields of `sharedRows`' answer: `features`, and `memory` when there is one. */
export function bankRows(rows: number, dim: number): { features: Float32Array; memory?: WebAssembly.Memory } {
  const { features, memory } = sharedRows(rows, dim);
  return memory ? { features, memory } : { features };
}

/** The exact distance on bank rows, with a query slot of its own; `release` gives the slot back. */
export interface ExactKernel {
  /** Makes `queries[off .. off + dim]` the query of the next `dist2Below` calls. */
  setQuery(queries: Float32Array, off: number): void;
  /** `exactDist2Below` of the query and row `row`, bit for bit. */
  dist2Below(row: number, limit: number): number;
  release(): void;
}

/**
 * A kernel on `features` (rows of `dim`), which must be the view `sharedRows` made of `memory`
 * (or its copy in another thread: the two travel together in a bank), or null when the view does
 * not fit in the memory or every query slot is taken.
 */
export function exactKernel(memory: WebAssembly.Memory, features: Float32Array, dim: number): ExactKernel | null {
  const buffer = memory.buffer;
  if (features.byteOffset < FLAGS_BYTES + QUERY_SLOTS * slotBytes(dim) || features.byteOffset + features.byteLength > buffer.byteLength)
    return null;
  const flags = new Int32Array(buffer, 0, QUERY_SLOTS);
  let slot = -1;
  for (let s = 0; s < QUERY_SLOTS && slot < 0; s++) if (Atomics.compareExchange(flags, s, 0, 1) === 0) slot = s;
  if (slot < 0) return null;
  const { exports } = new WebAssembly.Instance(wasm, { env: { memory } }) as unknown as { exports: ExactExports };
  const queryAt = FLAGS_BYTES + slot * slotBytes(dim);
  const query = new Float32Array(buffer, queryAt, dim);
  const rowsAt = features.byteOffset;
  const rowBytes = dim * 4;
  let released = false;
  return {
    setQuery: (queries, off) => query.set(queries.subarray(off, off + dim)),
    dist2Below: (row, limit) => exports.dist2Below(queryAt, rowsAt + row * rowBytes, dim, limit),
    release() {
      if (released) return;
      released = true;
      Atomics.store(flags, slot, 0);
    },
  };
}
