// AssemblyScript, compiled to WebAssembly with SIMD by `npm run build:wasm` (not by tsc).
//
// The first test of the coreset's group scan (../../coreset/partition.ts), two groups per float64
// lane pair: for each of a worker's groups, the squared distance of the new pick to the group's
// centre on the first 8 basis coordinates, summed in the same order as the JavaScript it replaces,
// against the group's threshold. The host lays out, one group per slot:
//   heads       f64 × capacity, 8 times: coordinate c of every slot's centre, coordinate-major
//   thresholds  f64 × capacity: below −0 for an empty slot (never passes)
//   outSlots    i32 × capacity, outBounds f64 × capacity: the slots that pass, with their sums

let heads: usize = 0;
let thresholds: usize = 0;
let capacity: i32 = 0;
let outSlots: usize = 0;
let outBounds: usize = 0;

export function layout(headsAt: usize, thresholdsAt: usize, slots: i32, outSlotsAt: usize, outBoundsAt: usize): void {
  heads = headsAt;
  thresholds = thresholdsAt;
  capacity = slots;
  outSlots = outSlotsAt;
  outBounds = outBoundsAt;
}

function square(x: f64, at: usize): v128 {
  const d = f64x2.sub(f64x2.splat(x), v128.load(at));
  return f64x2.mul(d, d);
}

/** Slots `0 .. count − 1` whose 8-coordinate bound is below their threshold, in order; returns how many. */
export function scan(count: i32, x0: f64, x1: f64, x2: f64, x3: f64, x4: f64, x5: f64, x6: f64, x7: f64): i32 {
  const stride = (<usize>capacity) << 3;
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
    if ((mask & 1) != 0) {
      store<i32>(outSlots + ((<usize>n) << 2), s);
      store<f64>(outBounds + ((<usize>n) << 3), f64x2.extract_lane(lb, 0));
      n++;
    }
    if ((mask & 2) != 0 && s + 1 < count) {
      store<i32>(outSlots + ((<usize>n) << 2), s + 1);
      store<f64>(outBounds + ((<usize>n) << 3), f64x2.extract_lane(lb, 1));
      n++;
    }
  }
  return n;
}
