/**
 * Worker side of `coreset.ts`: one `CoresetPartition` (the rows `lo .. hi − 1` until they find a
 * centre, then the groups of every W-th pick), in lockstep with the other workers through a
 * barrier per pick. Results are double-buffered by pick parity, so a fast
 * worker writing pick t + 1 never overwrites what a slow one is still reading for pick t.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CTL, type WorkerMessage, type WorkerSetup, mergeArgmax } from './coreset.js';
import { type Argmax, CoresetPartition } from './partition.js';

/**
 * Busy-wait this long before sleeping: a pick takes well under a millisecond and waking a sleeping
 * thread costs tens of microseconds or more (on a VM), but spinning longer starves whatever else
 * shares the two cores.
 */
const SPIN_MS = 0.5;

function barrier(control: Int32Array, workers: number): void {
  const gen = Atomics.load(control, CTL.GEN);
  if (Atomics.add(control, CTL.ARRIVED, 1) === workers - 1) {
    Atomics.store(control, CTL.ARRIVED, 0);
    Atomics.add(control, CTL.GEN, 1);
    Atomics.notify(control, CTL.GEN);
    return;
  }
  const started = performance.now();
  let spins = 0;
  let sleep = false;
  while (Atomics.load(control, CTL.GEN) === gen) {
    if (Atomics.load(control, CTL.FAILED) !== 0) throw new Error('coreset stopped');
    // Timed waits so a stop request is seen even if no notify comes.
    if (sleep) Atomics.wait(control, CTL.GEN, gen, 50);
    else if ((++spins & 255) === 0) sleep = performance.now() - started > SPIN_MS;
  }
}

function run(setup: WorkerSetup): void {
  const { control, results, selected, workers, id, picks } = setup;
  const input = {
    y: setup.y,
    count: setup.count,
    dim: setup.dim,
    keep: setup.keep,
    picks,
    startPoints: setup.startPoints,
    firstPickRespectsMask: setup.firstPickRespectsMask,
  };
  const part = new CoresetPartition(
    { input, norms: setup.norms, basis: setup.basis, basisDim: setup.basisDim, eps2: setup.eps2, basisSlack: setup.basisSlack },
    setup.exchange,
    { lo: setup.lo, hi: setup.hi, id, workers },
  );
  const progressEvery = Math.max(1, Math.floor(picks / 100));
  const local: Argmax[] = Array.from({ length: workers }, () => ({ value: 0, index: -1 }));
  for (let t = 0; t < picks; t++) {
    const slot = (t & 1) * workers * 2;
    const mine = part.argmax();
    results[slot + id * 2] = mine.value;
    results[slot + id * 2 + 1] = mine.index;
    barrier(control, workers);
    for (let w = 0; w < workers; w++) {
      local[w].value = results[slot + w * 2];
      local[w].index = results[slot + w * 2 + 1];
    }
    const pick = mergeArgmax(local);
    if (id === 0) {
      selected[t] = pick.index;
      if ((t + 1) % progressEvery === 0) parentPort!.postMessage({ type: 'progress', done: t + 1 } satisfies WorkerMessage);
    }
    part.update(pick.index);
  }
  // Every worker has listed the last pick's movers before its owner gathers them.
  barrier(control, workers);
  part.finish(setup.state);
  parentPort!.postMessage({ type: 'done', counters: part.counters } satisfies WorkerMessage);
}

run(workerData as WorkerSetup);
