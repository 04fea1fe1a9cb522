/**
 * The per-position discriminators over all positions, on up to two threads: with a second lane (a
 * worker thread reading the same patch set in shared memory and writing the same shared score
 * arrays) each thread takes the next block of positions when it finishes one. Each position's
 * scores depend on that position alone, so they do not depend on the lane that computed them.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { shareWork, ThreadLane } from '../kernels/thread-lane.js';
import type { DiscriminatorName } from '../types.js';
import { type DiscriminatorOptions, type PatchSet, PositionDiscriminator } from './discriminators.js';

/** Positions scored between two looks at the caller's progress (and abort) callback (~20 ms of work). */
const POSITIONS_PER_STEP = 16;
/** Below this many positions a second thread costs more than it saves. */
const MIN_POSITIONS_FOR_LANE = 4 * POSITIONS_PER_STEP;

export interface PositionsOptions {
  /** Two or more: a second lane when the patch set lives in shared memory (default 1). */
  threads?: number;
  /** After each block, with the number of positions scored so far; may throw to stop (its error is the call's). */
  onPositions?(done: number): Promise<void> | void;
}

/** What the second lane is started with. */
export interface PositionLaneSetup {
  set: PatchSet;
  names: readonly DiscriminatorName[];
  opts: DiscriminatorOptions;
  scores: Map<DiscriminatorName, Float64Array>;
}

export interface PositionLaneRequest {
  from: number;
  to: number;
}

const isShared = (a: ArrayBufferView): boolean => a.buffer instanceof SharedArrayBuffer;

export async function discriminatePositions(
  set: PatchSet,
  names: readonly DiscriminatorName[],
  opts: DiscriminatorOptions,
  options: PositionsOptions = {},
): Promise<Map<DiscriminatorName, Float64Array>> {
  const P = set.patches;
  const laned = (options.threads ?? 1) >= 2 && P >= MIN_POSITIONS_FOR_LANE && set.images.every(isShared);
  const length = set.images.length * P;
  const array = (): Float64Array => (laned ? new Float64Array(new SharedArrayBuffer(length * 8)) : new Float64Array(length));
  const scores = new Map(names.map((n) => [n, array()]));
  const here = new PositionDiscriminator(set, names, opts, scores);
  let next = 0;
  let done = 0;
  const take = (): PositionLaneRequest | null => {
    if (next >= P) return null;
    const from = next;
    next = Math.min(P, next + POSITIONS_PER_STEP);
    return { from, to: next };
  };
  const scored = async (r: PositionLaneRequest): Promise<void> => {
    done += r.to - r.from;
    await options.onPositions?.(done);
  };
  const lane = laned
    ? new ThreadLane<PositionLaneRequest, number>(
        new URL('./position-lane.js', import.meta.url),
        { set, names, opts, scores } satisfies PositionLaneSetup,
        'discrimination lane',
      )
    : null;
  try {
    await shareWork(
      take,
      async (r) => {
        here.run(r.from, r.to);
        await scored(r);
        // The lane's replies are events: let them in between this thread's blocks.
        if (lane) await yieldToLoop();
      },
      lane &&
        (async (r) => {
          await lane.request(r);
          await scored(r);
        }),
    );
  } finally {
    await lane?.close();
  }
  return scores;
}
