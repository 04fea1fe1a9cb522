// AssemblyScript, compiled to WebAssembly with SIMD by `npm run build:wasm` (not by tsc).
//
// The per-position discriminators' distance matrix (../../denoise/discriminators.ts): the Euclidean
// distances between the `count` points of one position, each a float64 sum of squared float64
// differences over the dimensions in order, then its square root, as the JavaScript it replaced
// computed them. Two points per lane pair, two rows at a time: every lane's sum runs over k in
// order, so the bits are the same. The host lays out:
//   pairs   f64 × 2 × dim per pair of points (o, o + 1), their coordinates interleaved
//           (an odd count's last pair repeats its last point)
//   out     f64 × count × count, the matrix (row-major, diagonal 0)

let pairs: usize = 0;
let out: usize = 0;
let count: i32 = 0;
let dim: i32 = 0;

export function layout(pairsAt: usize, outAt: usize, points: i32, dims: i32): void {
  pairs = pairsAt;
  out = outAt;
  count = points;
  dim = dims;
}

/** Where point p's coordinates start in the interleaved pairs (coordinate k at + 16·k). */
function base(p: i32): usize {
  return pairs + ((<usize>((p >> 1) * dim)) << 4) + ((<usize>(p & 1)) << 3);
}

function put(q: i32, o: i32, d: f64): void {
  if (q >= count || o >= count) return;
  store<f64>(out + ((<usize>(q * count + o)) << 3), d);
  store<f64>(out + ((<usize>(o * count + q)) << 3), d);
}

/** The whole matrix for the points now in `pairs`. */
export function distances(): void {
  const pairBytes = (<usize>dim) << 4;
  for (let q: i32 = 0; q < count; q += 2) {
    const q1 = q + 1 < count ? q + 1 : q;
    const a0 = base(q);
    const a1 = base(q1);
    // Pairs from the one holding q: the upper triangle, and a little of the lower, written twice alike.
    for (let o: i32 = q & ~1; o < count; o += 2) {
      const b = pairs + <usize>(o >> 1) * pairBytes;
      let s0 = f64x2.splat(0);
      let s1 = f64x2.splat(0);
      for (let k: i32 = 0; k < dim; k++) {
        const u = v128.load(b + ((<usize>k) << 4));
        const d0 = f64x2.sub(f64x2.splat(load<f64>(a0 + ((<usize>k) << 4))), u);
        const d1 = f64x2.sub(f64x2.splat(load<f64>(a1 + ((<usize>k) << 4))), u);
        s0 = f64x2.add(s0, f64x2.mul(d0, d0));
        s1 = f64x2.add(s1, f64x2.mul(d1, d1));
      }
      put(q, o, Math.sqrt(f64x2.extract_lane(s0, 0)));
      put(q, o + 1, Math.sqrt(f64x2.extract_lane(s0, 1)));
      put(q1, o, Math.sqrt(f64x2.extract_lane(s1, 0)));
      put(q1, o + 1, Math.sqrt(f64x2.extract_lane(s1, 1)));
    }
  }
  for (let q: i32 = 0; q < count; q++) store<f64>(out + ((<usize>(q * count + q)) << 3), 0);
}
