// AssemblyScript, compiled to WebAssembly with SIMD by `npm run build:wasm` (not by tsc).
//
// Every row of a bank's projected index whose squared distance to the query, as computed here in
// float32, is at most `t`. The host (../candidates.ts) lays the index out in this module's memory:
//   nodes  i32 × 4 per node: first row, end row, left child, right child (−1: a leaf)
//   boxes  f32 × 16 per node: the minimum, then the maximum, of the node's rows on the first 8 coordinates
//   blocks f32, rows four at a time: for each of BLOCK_DIMS + 1 values (the first coordinates, then the
//          norm of the other coordinates) the four rows' values side by side
//   full   f32 × stride per row: every coordinate, zero-padded to a multiple of four
//   source i32 per row: the training image the row comes from
//   query  f32 × stride, and its first BLOCK_DIMS values and the norm of the others at qlow
// Rows are in the tree's order; the host maps them back. A node's rows are contiguous and begin at
// a multiple of four. The three tests (box, low block, all coordinates) are each a distance on a
// subset of the coordinates or on norms of the rest, so each is at most the full distance.

const BLOCK_DIMS: i32 = 16;
const BLOCK_VALUES: i32 = BLOCK_DIMS + 1;
/** Coordinates between checks of the full distance against `t`. */
const CHECK_EVERY: i32 = 32;

// The layout of this instance's tree (byte offsets; `stride` floats per row), set once by `layout`.
let nodes: usize = 0;
let boxes: usize = 0;
let stack: usize = 0;
let blocks: usize = 0;
let full: usize = 0;
let stride: i32 = 0;
let source: usize = 0;
let query: usize = 0;
let qlow: usize = 0;
let outRows: usize = 0;
let outDist: usize = 0;

export function layout(
  nodesAt: usize,
  boxesAt: usize,
  stackAt: usize,
  blocksAt: usize,
  fullAt: usize,
  rowStride: i32,
  sourceAt: usize,
  queryAt: usize,
  qlowAt: usize,
  outRowsAt: usize,
  outDistAt: usize,
): void {
  nodes = nodesAt;
  boxes = boxesAt;
  stack = stackAt;
  blocks = blocksAt;
  full = fullAt;
  stride = rowStride;
  source = sourceAt;
  query = queryAt;
  qlow = qlowAt;
  outRows = outRowsAt;
  outDist = outDistAt;
}

function sum4(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

function boxDistance(box: usize, q0: v128, q1: v128): f32 {
  const zero = f32x4.splat(0);
  const e0 = f32x4.max(zero, f32x4.max(f32x4.sub(v128.load(box), q0), f32x4.sub(q0, v128.load(box + 32))));
  const e1 = f32x4.max(zero, f32x4.max(f32x4.sub(v128.load(box + 16), q1), f32x4.sub(q1, v128.load(box + 48))));
  return sum4(f32x4.add(f32x4.mul(e0, e0), f32x4.mul(e1, e1)));
}

/** The float32 distance of row `r` to the query, or, once a partial sum exceeds `t`, that partial sum. */
function rowDistance(r: i32, t: f32): f32 {
  const row = full + <usize>(r * stride * 4);
  let s = f32x4.splat(0);
  let dist: f32 = 0;
  let d: i32 = 0;
  while (d < stride) {
    const end = min(stride, d + CHECK_EVERY);
    for (; d < end; d += 4) {
      const diff = f32x4.sub(v128.load(query + <usize>(d << 2)), v128.load(row + <usize>(d << 2)));
      s = f32x4.add(s, f32x4.mul(diff, diff));
    }
    dist = sum4(s);
    if (dist > t) break;
  }
  return dist;
}

/** Rows `lo .. hi` of a leaf; writes their positions and distances from `count`; −1 when more than `cap`. */
function leafCandidates(lo: i32, hi: i32, t: f32, exclude: i32, count: i32, cap: i32): i32 {
  const tv = f32x4.splat(t);
  for (let b: i32 = lo >> 2; b < (hi + 3) >> 2; b++) {
    const base = blocks + <usize>(b * BLOCK_VALUES * 16);
    let acc = f32x4.splat(0);
    for (let d: i32 = 0; d < BLOCK_VALUES; d++) {
      const diff = f32x4.sub(f32x4.splat(load<f32>(qlow + <usize>(d << 2))), v128.load(base + <usize>(d << 4)));
      acc = f32x4.add(acc, f32x4.mul(diff, diff));
    }
    const mask = i32x4.bitmask(f32x4.le(acc, tv));
    if (mask == 0) continue;
    for (let lane: i32 = 0; lane < 4; lane++) {
      const r = (b << 2) + lane;
      if (((mask >> lane) & 1) == 0 || r >= hi) continue;
      if (load<i32>(source + <usize>(r << 2)) == exclude) continue;
      const dist = rowDistance(r, t);
      if (dist > t) continue;
      if (count >= cap) return -1;
      store<i32>(outRows + <usize>(count << 2), r);
      store<f32>(outDist + <usize>(count << 2), dist);
      count++;
    }
  }
  return count;
}

/**
 * Depth first over the tree, the nearer child first, skipping every node whose box is farther than
 * `t`. Returns the number of candidates written, or −1 when there are more than `cap`.
 */
export function candidates(t: f32, exclude: i32, cap: i32): i32 {
  const q0 = v128.load(qlow);
  const q1 = v128.load(qlow + 16);
  let count: i32 = 0;
  store<i32>(stack, 0);
  let sp: i32 = 1;
  while (sp > 0) {
    sp--;
    const node = nodes + <usize>(load<i32>(stack + <usize>(sp << 2)) << 4);
    const left = load<i32>(node + 8);
    if (left < 0) {
      count = leafCandidates(load<i32>(node), load<i32>(node + 4), t, exclude, count, cap);
      if (count < 0) return -1;
      continue;
    }
    const right = load<i32>(node + 12);
    const dl = boxDistance(boxes + <usize>(left << 6), q0, q1);
    const dr = boxDistance(boxes + <usize>(right << 6), q0, q1);
    // The farther child goes on the stack first, so the nearer one is visited first.
    const far = dl <= dr ? right : left;
    const near = dl <= dr ? left : right;
    if (max(dl, dr) <= t) store<i32>(stack + <usize>(sp++ << 2), far);
    if (min(dl, dr) <= t) store<i32>(stack + <usize>(sp++ << 2), near);
  }
  return count;
}

/**
 * The position of the row nearest to the query by its float32 distance, among the rows of the
 * leaf that a descent towards the nearer box reaches, leaving out the rows of `exclude`; −1 when
 * the leaf holds none. A cheap first upper bound: its exact distance is usually close to the best.
 */
export function nearestInLeaf(exclude: i32): i32 {
  const q0 = v128.load(qlow);
  const q1 = v128.load(qlow + 16);
  let node = nodes;
  let left = load<i32>(node + 8);
  while (left >= 0) {
    const right = load<i32>(node + 12);
    const near = boxDistance(boxes + <usize>(left << 6), q0, q1) <= boxDistance(boxes + <usize>(right << 6), q0, q1) ? left : right;
    node = nodes + <usize>(near << 4);
    left = load<i32>(node + 8);
  }
  let best: f32 = Infinity;
  let bestRow: i32 = -1;
  const hi = load<i32>(node + 4);
  for (let r = load<i32>(node); r < hi; r++) {
    if (load<i32>(source + <usize>(r << 2)) == exclude) continue;
    const dist = rowDistance(r, best);
    if (dist < best) {
      best = dist;
      bestRow = r;
    }
  }
  return bestRow;
}
