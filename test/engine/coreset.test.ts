import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  greedyCoreset,
  type CoresetInput,
  coresetDistance,
  coresetDistances4,
  drawStartPoints,
  rowDot,
  squaredNorms,
  greedyCoresetReference,
  GroupArena,
  repairCoreset,
  repairCoresetReference,
} from '../../src/engine/coreset/index.js';
import { createRng } from '../../src/engine/kernels/index.js';
import { isAppError } from '../../src/common/errors.js';

/** Points on the x axis of a 2-D plane: x = 0, 1, 2, 10, 11, 20 (exact in float32). */
function line(keep = [1, 1, 1, 1, 1, 1], firstPickRespectsMask = false): CoresetInput {
  const xs = [0, 1, 2, 10, 11, 20];
  return {
    y: Float32Array.from(xs.flatMap((x) => [x, 0])),
    count: xs.length,
    dim: 2,
    keep: Uint8Array.from(keep),
    picks: 6,
    startPoints: Int32Array.from([0]),
    firstPickRespectsMask,
  };
}

async function bothSelections(input: CoresetInput, threads = 1): Promise<number[]> {
  const ref = [...greedyCoresetReference(input)];
  const fast = [...(await greedyCoreset(input, { threads })).selected];
  assert.deepEqual(fast, ref, 'fast selection differs from the reference');
  return ref;
}

test('2-D toy, by hand: greedy order, lowest index on ties, all-zero δ picks row 0', async () => {
  // δ from start point 0: 0 1 2 10 11 20 → pick 20 (row 5); δ: 0 1 2 10 9 0 → row 3 (x = 10);
  // δ: 0 1 2 0 1 0 → row 2; δ: 0 1 0 0 1 0 → tie at 1: row 1; then row 4; then all 0 → row 0.
  assert.deepEqual(await bothSelections(line()), [5, 3, 2, 1, 4, 0]);
});

test('2-D toy with rows 3 and 5 removed: first-pick quirk, then never a removed row', async () => {
  // Official: the initial δ ignores κ, so removed row 5 (x = 20) is picked first; after that every
  // removed row has δ = 0: δ = 0 1 2 0 9 0 → row 4, row 2, row 1, then all 0 → row 0 (twice).
  assert.deepEqual(await bothSelections(line([1, 1, 1, 0, 1, 0])), [5, 4, 2, 1, 0, 0]);
  // firstPickRespectsMask: δ starts at κ·mean = 0 1 2 0 11 0 → row 4 first; no removed row ever.
  assert.deepEqual(await bothSelections(line([1, 1, 1, 0, 1, 0], true)), [4, 2, 1, 0, 0, 0]);
});

test('the 4-row distance kernel gives the same bits as the single-row formula', () => {
  const rng = createRng(5);
  for (const dim of [1, 2, 7, 128]) {
    const count = 9;
    const y = Float32Array.from({ length: count * dim }, () => rng.next() * 10 - 5);
    const norms = squaredNorms(y, count, dim);
    const rows = Int32Array.from([3, 0, 8, 3]);
    const out = new Float32Array(4);
    coresetDistances4(y, norms, rows, 0, y, 5, norms[5], dim, out);
    rows.forEach((r, i) => assert.equal(out[i], coresetDistance(y, norms, r, 5, dim)));
    // D(a, a) = 0 exactly, which the pick's own row relies on.
    assert.equal(coresetDistance(y, norms, 4, 4, dim), 0);
    assert.ok(Math.abs(rowDot(y, 1, 2, dim) - [...Array(dim).keys()].reduce((s, k) => s + y[dim + k] * y[2 * dim + k], 0)) < 1e-3);
  }
});

/** Clustered rows with duplicates and a random keep mask. */
function clustered(count: number, dim: number, seed: number, removed: number, picks: number, firstPickRespectsMask = false): CoresetInput {
  const rng = createRng(seed);
  const centres = Array.from({ length: 12 }, () => Array.from({ length: dim }, () => rng.next() * 6));
  const y = new Float32Array(count * dim);
  for (let n = 0; n < count; n++) {
    const c = centres[rng.int(centres.length)];
    const spread = 0.05 + rng.next() * 0.5;
    for (let k = 0; k < dim; k++) y[n * dim + k] = c[k] + (rng.next() - 0.5) * spread;
  }
  // Exact duplicates, some of them in both kept and removed rows.
  for (let i = 0; i < count / 20; i++) {
    const src = rng.int(count);
    y.copyWithin(rng.int(count) * dim, src * dim, (src + 1) * dim);
  }
  const keep = Uint8Array.from({ length: count }, () => (rng.next() < removed ? 0 : 1));
  return { y, count, dim, keep, picks, startPoints: drawStartPoints(rng, count, 10), firstPickRespectsMask };
}

test('fast == reference on clustered random data with duplicates and keep masks', async () => {
  await bothSelections(clustered(3000, 16, 1, 0.15, 300));
  await bothSelections(clustered(2500, 24, 2, 0, 400));
  await bothSelections(clustered(2000, 8, 3, 0.5, 250, true));
  // More picks than distinct kept rows: the loop runs into all-zero δ and must still agree.
  await bothSelections(clustered(300, 4, 4, 0.9, 100));
});

test('worker threads select the same sequence as the reference', async () => {
  const input = clustered(20_000, 12, 7, 0.15, 150);
  const ref = [...greedyCoresetReference(input)];
  for (const threads of [2, 3]) {
    const seen: number[] = [];
    const fast = await greedyCoreset(input, { threads, onProgress: (done) => seen.push(done) });
    assert.equal(fast.threads, threads);
    assert.deepEqual([...fast.selected], ref, `${threads} threads`);
    assert.ok(fast.counters.pointDistances < input.count * input.picks, 'pruning skipped distances');
    assert.equal(seen.at(-1), input.picks);
    assert.ok(
      seen.every((v, i) => i === 0 || v >= seen[i - 1]),
      'progress never goes back',
    );
  }
});

test('worker threads agree with the reference over many picks in few dimensions', async () => {
  // Rows move to groups of the other workers at almost every pick (groups belong to workers by
  // pick, rows start in ranges); with half the rows removed and the first-pick switch on, too.
  await bothSelections(clustered(20_000, 3, 11, 0.5, 1200, true), 2);
  await bothSelections(clustered(20_000, 5, 12, 0, 600), 3);
});

/** Rows `from .. to` removed as well: the rows of photos left out after a run. */
function without(input: CoresetInput, from: number, to: number, picks: number): CoresetInput {
  const keep = Uint8Array.from(input.keep, (k, n) => (n >= from && n < to ? 0 : k));
  return { ...input, keep, picks, firstPickRespectsMask: true };
}

/** The repair of a run (this thread or workers) against the reference, and what it returned. */
async function bothRepairs(input: CoresetInput, narrowed: CoresetInput, threads: number): Promise<number[]> {
  const run = await greedyCoreset(input, { threads });
  const ref = [...repairCoresetReference(narrowed, run.selected)];
  const fast = await repairCoreset(narrowed, run);
  assert.deepEqual([...fast.selected], ref, 'repaired selection differs from the reference');
  const removedPicks = [...run.selected.subarray(0, narrowed.picks)].filter((r) => narrowed.keep[r] === 0).length;
  assert.equal(fast.added, removedPicks, 'each removed pick of the prefix is replaced');
  return ref;
}

test("repair, by hand: the run's picks without the removed rows, then the loop", async () => {
  // The run picks 5 3 2 1 4 0 (first test). Without rows 2 and 3, 5 picks: of its first five, 5 1 4
  // stay; δ is then 0 everywhere (row 0 is the start point): row 0.
  const input = { ...line(), picks: 6 };
  assert.deepEqual(await bothRepairs(input, without(input, 2, 4, 5), 1), [5, 1, 4, 0, 0]);
  // Four picks: of 5 3 2 1 only 5 and 1 stay; δ = 0 0 0 0 9 0: row 4, then all 0: row 0.
  assert.deepEqual(await bothRepairs(input, without(input, 2, 4, 4), 1), [5, 1, 4, 0]);
  // Three picks of a run over all rows, row 5 left out: 3 and 2 stay; δ = 0 1 0 0 1 0 → row 1.
  const short = { ...line(), picks: 3 };
  assert.deepEqual(await bothRepairs(short, without(short, 5, 6, 3), 1), [3, 2, 1]);
});

test('repair == reference: orphans, picks added, fewer picks than the run kept, run in workers', async () => {
  const input = clustered(3000, 16, 21, 0.15, 300);
  // A whole cluster's worth of rows out: many orphans and picks to add.
  await bothRepairs(input, without(input, 0, 600, 260), 1);
  // Far fewer picks than the run made: its first ones, then the loop.
  await bothRepairs(input, without(input, 2900, 3000, 100), 1);
  const big = clustered(20_000, 8, 22, 0.1, 400, false);
  await bothRepairs(big, without(big, 5000, 7000, 380), 2);
});

test('repair refuses a run over other rows, or rows the run had removed', async () => {
  const input = clustered(2000, 8, 23, 0.2, 100);
  const run = await greedyCoreset(input, { threads: 1 });
  await assert.rejects(repairCoreset({ ...input, keep: new Uint8Array(input.count).fill(1) }, run), /removed in the run/);
  const short = { ...run, state: { delta: run.state.delta.subarray(1), centre: run.state.centre } };
  await assert.rejects(repairCoreset(input, short), /state holds/);
});

test('cancellation stops the loop (this thread and workers)', async () => {
  for (const threads of [1, 2]) {
    const input = clustered(25_000, 32, 8, 0.1, 2500);
    const abort = new AbortController();
    const run = greedyCoreset(input, { threads, signal: abort.signal, onProgress: () => abort.abort() });
    await assert.rejects(run, (err: unknown) => isAppError(err) && err.code === 'cancelled');
  }
  const aborted = AbortSignal.abort();
  await assert.rejects(greedyCoreset(line(), { signal: aborted }), (err: unknown) => isAppError(err) && err.code === 'cancelled');
});

test('bad inputs are refused', async () => {
  await assert.rejects(greedyCoreset({ ...line(), picks: 0 }), (err: unknown) => isAppError(err) && /picks/.test(err.message));
  await assert.rejects(greedyCoreset({ ...line(), keep: new Uint8Array(2) }), /keep mask/);
  await assert.rejects(greedyCoreset({ ...line(), startPoints: Int32Array.from([9]) }), /start points/);
});

test('group arena: blocks keep their rows through compaction in place and into a larger buffer', () => {
  const B = 4;
  const arena = new GroupArena(8, B, 6);
  const capacity = arena.f32.length;
  const room = Math.floor(capacity / (2 + B));
  const fill = (g: number, rows: number, size: number): void => {
    arena.allocate(g, rows);
    const at = arena.start[g];
    for (let m = 0; m < size; m++) {
      arena.f32[at + m] = g + m / 10;
      arena.i32[at + rows + m] = 100 * g + m;
      for (let k = 0; k < B; k++) arena.f32[at + 2 * rows + m * B + k] = 1000 * g + 10 * m + k;
    }
    arena.size[g] = size;
  };
  const check = (g: number, size: number): void => {
    const at = arena.start[g];
    const cap = arena.cap[g];
    assert.equal(arena.size[g], size);
    for (let m = 0; m < size; m++) {
      assert.equal(arena.f32[at + m], Math.fround(g + m / 10));
      assert.equal(arena.i32[at + cap + m], 100 * g + m);
      for (let k = 0; k < B; k++) assert.equal(arena.f32[at + 2 * cap + m * B + k], 1000 * g + 10 * m + k);
    }
  };
  const half = Math.floor(room / 2);
  fill(0, half, 3); // room given back
  fill(1, 2, 0); // emptied: dropped
  fill(2, 1, 1);
  // More rows than are left: the live blocks slide down in place, shrunk to their rows.
  fill(3, room - half, 4);
  assert.equal(arena.f32.length, capacity);
  assert.equal(arena.start[0], 0);
  assert.equal(arena.cap[0], 3);
  assert.equal(arena.cap[1], 0);
  for (const [g, size] of [
    [0, 3],
    [2, 1],
    [3, 4],
  ])
    check(g, size);
  // A block larger than the buffer: a larger buffer, the blocks copied.
  const more = room + 1;
  fill(4, more, 5);
  assert.ok(arena.f32.length > capacity);
  assert.equal(arena.i32.buffer, arena.f32.buffer);
  for (const [g, size] of [
    [0, 3],
    [2, 1],
    [3, 4],
    [4, 5],
  ])
    check(g, size);
});
