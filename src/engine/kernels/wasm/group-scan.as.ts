// AssemblyScript, compiled to WebAssembly with SIMD by `npm run build:wasm` (not by tsc).
//
// The coreset's group scan (../../coreset/partition.ts): which of a worker's groups the new pick
// may take rows from, by the three tests on the distance of the pick x to each group's centre c,
// cheapest first:
//   1. the first 8 basis coordinates, two groups per float64 lane pair, against the basis threshold;
//   2. the other basis coordinates, four at a time with early exit (partial sums only grow);
//   3. the exact squared distance in float64 (four running sums), shrunk by 1e−12, against the
//      exact threshold.
// Sums run in the order of the JavaScript they replace. The host lays out, one group per slot:
//   heads       f64 × capacity, 8 times: coordinate c of every slot's centre, coordinate-major
//   thresholds  f64 × capacity, twice: basis, then exact; below 0 for an empty slot (never passes)
//   rest        f64 × (basisDim − 8) per slot: the centre's other basis coordinates
//   rows        f32 × rowStride per slot: the centre's row, zero-padded to a multiple of four
//   pick        f64 × basisDim, then f32 × rowStride: the new pick's coordinates and row
//   out         i32 slot and f64 bound per group that passes all three
//
// It also computes the basis coordinates of rows (every row's once, each pick's), in float64: basis
// rows in pairs, one per lane, each lane's sum over the dimensions in order, as the JavaScript it
// replaced summed them (products rounded, then added; no fused multiply-add). The host lays out:
//   projBasis   f64 × 2 × dim per pair of basis rows, the pair's coordinates interleaved
//   projRows    f32 × dim per row to project
//   projOut     f64 × basisDim per row

const HEAD: i32 = 8;

let heads: usize = 0;
let thresholds: usize = 0;
let exactThresholds: usize = 0;
let rest: usize = 0;
let rows: usize = 0;
let pickBasis: usize = 0;
let pickRow: usize = 0;
let outSlots: usize = 0;
let outLower: usize = 0;
let capacity: i32 = 0;
let basisDim: i32 = 0;
let rowStride: i32 = 0;
/** Groups that reached test 3 (the host's `centreDistances` counter). */
let exactCount: i32 = 0;
let projBasis: usize = 0;
let projRows: usize = 0;
let projOut: usize = 0;
let projDim: i32 = 0;

export function layout(
  headsAt: usize,
  thresholdsAt: usize,
  restAt: usize,
  rowsAt: usize,
  pickAt: usize,
  outAt: usize,
  slots: i32,
  dims: i32,
  stride: i32,
): void {
  capacity = slots;
  basisDim = dims;
  rowStride = stride;
  heads = headsAt;
  thresholds = thresholdsAt;
  exactThresholds = thresholdsAt + ((<usize>slots) << 3);
  rest = restAt;
  rows = rowsAt;
  pickBasis = pickAt;
  pickRow = pickAt + ((<usize>dims) << 3);
  outSlots = outAt;
  outLower = outAt + ((<usize>slots) << 2);
}

export function layoutProjection(basisAt: usize, rowsAt: usize, outAt: usize, dim: i32): void {
  projBasis = basisAt;
  projRows = rowsAt;
  projOut = outAt;
  projDim = dim;
}

/** Basis coordinates of the first `count` rows at `projRows`, into `projOut`: four pairs of basis rows per pass over a row. */
export function projectRows(count: i32): void {
  const pairBytes = (<usize>projDim) << 4;
  for (let n: i32 = 0; n < count; n++) {
    const row = projRows + ((<usize>(n * projDim)) << 2);
    const out = projOut + ((<usize>(n * basisDim)) << 3);
    for (let p: i32 = 0; p < basisDim; p += 8) {
      const b = projBasis + <usize>(p >> 1) * pairBytes;
      let s0 = f64x2.splat(0);
      let s1 = f64x2.splat(0);
      let s2 = f64x2.splat(0);
      let s3 = f64x2.splat(0);
      for (let k: i32 = 0; k < projDim; k++) {
        const v = f64x2.splat(<f64>load<f32>(row + ((<usize>k) << 2)));
        const at = b + ((<usize>k) << 4);
        s0 = f64x2.add(s0, f64x2.mul(v128.load(at), v));
        s1 = f64x2.add(s1, f64x2.mul(v128.load(at + pairBytes), v));
        s2 = f64x2.add(s2, f64x2.mul(v128.load(at + 2 * pairBytes), v));
        s3 = f64x2.add(s3, f64x2.mul(v128.load(at + 3 * pairBytes), v));
      }
      const o = out + ((<usize>p) << 3);
      v128.store(o, s0);
      v128.store(o + 16, s1);
      v128.store(o + 32, s2);
      v128.store(o + 48, s3);
    }
  }
}

export function exactDistances(): i32 {
  return exactCount;
}

function square(x: f64, at: usize): v128 {
  const d = f64x2.sub(f64x2.splat(x), v128.load(at));
  return f64x2.mul(d, d);
}

/** Tests 2 and 3 for slot `s` whose head sum is `lb`; the exact bound, or −1 when a test settles the group. */
function deeper(s: i32, lb: f64): f64 {
  const limit = load<f64>(thresholds + ((<usize>s) << 3));
  const restDims = basisDim - HEAD;
  const c = rest + <usize>(s * restDims) * 8;
  for (let k: i32 = 0; k < restDims && lb < limit; k += 4) {
    const u0 = load<f64>(pickBasis + ((<usize>(HEAD + k)) << 3)) - load<f64>(c + ((<usize>k) << 3));
    const u1 = load<f64>(pickBasis + ((<usize>(HEAD + k + 1)) << 3)) - load<f64>(c + ((<usize>(k + 1)) << 3));
    const u2 = load<f64>(pickBasis + ((<usize>(HEAD + k + 2)) << 3)) - load<f64>(c + ((<usize>(k + 2)) << 3));
    const u3 = load<f64>(pickBasis + ((<usize>(HEAD + k + 3)) << 3)) - load<f64>(c + ((<usize>(k + 3)) << 3));
    lb += u0 * u0 + u1 * u1 + (u2 * u2 + u3 * u3);
  }
  if (lb >= limit) return -1;
  exactCount++;
  // Lanes (s0, s1) and (s2, s3): four running sums over the row, four coordinates at a time.
  const row = rows + <usize>(s * rowStride) * 4;
  let s01 = f64x2.splat(0);
  let s23 = f64x2.splat(0);
  for (let k: i32 = 0; k < rowStride; k += 4) {
    const a = v128.load(pickRow + ((<usize>k) << 2));
    const b = v128.load(row + ((<usize>k) << 2));
    const d01 = f64x2.sub(f64x2.promote_low_f32x4(a), f64x2.promote_low_f32x4(b));
    const d23 = f64x2.sub(
      f64x2.promote_low_f32x4(i32x4.shuffle(a, a, 2, 3, 0, 1)),
      f64x2.promote_low_f32x4(i32x4.shuffle(b, b, 2, 3, 0, 1)),
    );
    s01 = f64x2.add(s01, f64x2.mul(d01, d01));
    s23 = f64x2.add(s23, f64x2.mul(d23, d23));
  }
  const exact = f64x2.extract_lane(s01, 0) + f64x2.extract_lane(s01, 1) + (f64x2.extract_lane(s23, 0) + f64x2.extract_lane(s23, 1));
  const lower = exact * (1 - 1e-12);
  return lower < load<f64>(exactThresholds + ((<usize>s) << 3)) ? lower : -1;
}

/** Slots `0 .. count − 1` that pass all three tests, in order, into `out`; returns how many. */
export function scan(count: i32): i32 {
  const stride = (<usize>capacity) << 3;
  const x0 = load<f64>(pickBasis);
  const x1 = load<f64>(pickBasis + 8);
  const x2 = load<f64>(pickBasis + 16);
  const x3 = load<f64>(pickBasis + 24);
  const x4 = load<f64>(pickBasis + 32);
  const x5 = load<f64>(pickBasis + 40);
  const x6 = load<f64>(pickBasis + 48);
  const x7 = load<f64>(pickBasis + 56);
  let n: i32 = 0;
  for (let s: i32 = 0; s < count; s += 2) {
    const o = heads + ((<usize>s) << 3);
    // ((v0² + v1²) + (v2² + v3²)) + ((v4² + v5²) + (v6² + v7²)), lane by lane.
    const a = f64x2.add(
      f64x2.add(square(x0, o), square(x1, o + stride)),
      f64x2.add(square(x2, o + 2 * stride), square(x3, o + 3 * stride)),
    );
    const b = f64x2.add(
      f64x2.add(square(x4, o + 4 * stride), square(x5, o + 5 * stride)),
      f64x2.add(square(x6, o + 6 * stride), square(x7, o + 7 * stride)),
    );
    const lb = f64x2.add(a, b);
    const mask = i64x2.bitmask(f64x2.lt(lb, v128.load(thresholds + ((<usize>s) << 3))));
    if (mask == 0) continue;
    for (let lane: i32 = 0; lane < 2; lane++) {
      if (((mask >> lane) & 1) == 0 || s + lane >= count) continue;
      const lower = deeper(s + lane, lane == 0 ? f64x2.extract_lane(lb, 0) : f64x2.extract_lane(lb, 1));
      if (lower < 0) continue;
      store<i32>(outSlots + ((<usize>n) << 2), s + lane);
      store<f64>(outLower + ((<usize>n) << 3), lower);
      n++;
    }
  }
  return n;
}
