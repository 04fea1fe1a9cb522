// AssemblyScript, compiled to WebAssembly with SIMD by `npm run build:wasm` (not by tsc).
//
// The exact squared distance of the search (search-reference.ts `exactDist2Below`), bit for bit:
// float64 differences of float32 values, squared and added in four running sums (dimension j
// goes to sum j mod 4; here sums 0 and 1 are the lanes of one float64 pair, 2 and 3 of another),
// checked against the limit after every CHECK_EVERY dimensions as s0 + s1 + (s2 + s3). The
// memory is the bank's (shared between threads); the caller places the query in it.

const CHECK_EVERY: i32 = 64;

export function dist2Below(query: usize, row: usize, dim: i32, limit: f64): f64 {
  let s01 = f64x2.splat(0);
  let s23 = f64x2.splat(0);
  let j: i32 = 0;
  while (j + 3 < dim) {
    const blockEnd = min(dim, j + CHECK_EVERY);
    for (; j + 3 < blockEnd; j += 4) {
      const q = v128.load(query + <usize>(j << 2));
      const b = v128.load(row + <usize>(j << 2));
      const t01 = f64x2.sub(f64x2.promote_low_f32x4(q), f64x2.promote_low_f32x4(b));
      const t23 = f64x2.sub(
        f64x2.promote_low_f32x4(v128.shuffle<i32>(q, q, 2, 3, 0, 1)),
        f64x2.promote_low_f32x4(v128.shuffle<i32>(b, b, 2, 3, 0, 1)),
      );
      s01 = f64x2.add(s01, f64x2.mul(t01, t01));
      s23 = f64x2.add(s23, f64x2.mul(t23, t23));
    }
    const partial = f64x2.extract_lane(s01, 0) + f64x2.extract_lane(s01, 1) + (f64x2.extract_lane(s23, 0) + f64x2.extract_lane(s23, 1));
    if (partial > limit) return partial;
  }
  let s0 = f64x2.extract_lane(s01, 0);
  for (; j < dim; j++) {
    const t = <f64>load<f32>(query + <usize>(j << 2)) - <f64>load<f32>(row + <usize>(j << 2));
    s0 += t * t;
  }
  return s0 + f64x2.extract_lane(s01, 1) + (f64x2.extract_lane(s23, 0) + f64x2.extract_lane(s23, 1));
}
