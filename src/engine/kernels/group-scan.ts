/**
 * The coreset's group scan in WebAssembly SIMD (wasm/group-scan.as.ts): for one worker's groups,
 * the 8-coordinate lower bound of the new pick's distance to each group's centre against the
 * group's threshold, two groups per instruction. The host keeps the heads and thresholds in the
 * module's memory through the views below; slots are the worker's groups in pick order.
 */
// The engine reads no data files; this is the kernel's compiled code, shipped beside this module.
// eslint-disable-next-line no-restricted-imports
import { readFileSync } from 'node:fs';

/** Coordinates of a head. */
export const HEAD = 8;
const PAGE = 65536;

const wasm = new WebAssembly.Module(readFileSync(new URL('./wasm/group-scan.wasm', import.meta.url)));

interface ScanExports {
  layout(heads: number, thresholds: number, slots: number, outSlots: number, outBounds: number): void;
  scan(count: number, x0: number, x1: number, x2: number, x3: number, x4: number, x5: number, x6: number, x7: number): number;
}

export class GroupScan {
  /** Coordinate c of slot s's centre at `heads[c][s]`. */
  readonly heads: Float64Array[];
  /** Slot s's threshold on the squared bound; below 0 for an empty group. */
  readonly thresholds: Float64Array;
  /** After `scan`: the passing slots and their bounds, in slot order. */
  readonly slots: Int32Array;
  readonly bounds: Float64Array;
  private readonly kernel: ScanExports;

  constructor(capacity: number) {
    // Even, so that the last pair of lanes stays inside every array.
    const cap = capacity + (capacity % 2);
    const bytes = cap * 8 * (HEAD + 1) + cap * (4 + 8);
    const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / PAGE) + 1 });
    const instance = new WebAssembly.Instance(wasm, {
      env: {
        memory,
        abort: () => {
          throw new Error('group scan kernel aborted');
        },
      },
    });
    this.kernel = instance.exports as unknown as ScanExports;
    const buffer = memory.buffer;
    this.heads = Array.from({ length: HEAD }, (_, c) => new Float64Array(buffer, c * cap * 8, cap));
    const thresholdsAt = HEAD * cap * 8;
    this.thresholds = new Float64Array(buffer, thresholdsAt, cap).fill(-1);
    const slotsAt = thresholdsAt + cap * 8;
    const boundsAt = slotsAt + cap * 4;
    this.slots = new Int32Array(buffer, slotsAt, cap);
    this.bounds = new Float64Array(buffer, boundsAt, cap);
    this.kernel.layout(0, thresholdsAt, cap, slotsAt, boundsAt);
  }

  /** Slots `0 .. count − 1` whose bound for the pick with head `x` is below their threshold; their number. */
  scan(count: number, x: ArrayLike<number>): number {
    return this.kernel.scan(count, x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]);
  }
}
