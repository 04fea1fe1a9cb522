/**
 * `trainRotations: "auto"` (`orientation.ts`): a part's axis and elongation are read off drawn
 * parts, and the turns are learnt only where most photos show an elongated part and its axes are
 * spread; round parts, parts that lie one way, frames that are not square and builds that would not
 * fit keep the photos as they are. A line that names its turns is never read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { partAxis } from '../../src/backbone/align.js';
import {
  AXIS_ELONGATION,
  chooseTurns,
  decideTurns,
  ORIENTATION_SAMPLE,
  orientationSpread,
  sampleIndices,
} from '../../src/backbone/orientation.js';
import type { PreparedImage } from '../../src/backbone/types.js';

/** A dark part on a light tray: a bar `length` × `width` turned by `angle` (radians), or a disc when length = width. */
function part(angle: number, length: number, width: number, size = 64, w = size): PreparedImage {
  const h = size;
  const data = new Float32Array(3 * w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const dx = x + 0.5 - w / 2;
      const dy = y + 0.5 - h / 2;
      const u = Math.cos(angle) * dx + Math.sin(angle) * dy;
      const v = -Math.sin(angle) * dx + Math.cos(angle) * dy;
      const inside = length === width ? Math.hypot(u, v) < length / 2 : Math.abs(u) < length / 2 && Math.abs(v) < width / 2;
      for (let c = 0; c < 3; c++) data[c * w * h + y * w + x] = inside ? 50 : 200;
    }
  }
  const geometry = {
    originalWidth: w,
    originalHeight: h,
    resizedWidth: w,
    resizedHeight: h,
    cropLeft: 0,
    cropTop: 0,
    cropWidth: w,
    cropHeight: h,
  };
  return { data, width: w, height: h, geometry };
}

const deg = (d: number): number => (d * Math.PI) / 180;
/** Difference of two axis angles folded into (−π/2, π/2]. */
const axisTurn = (a: number, b: number): number => 0.5 * Math.atan2(Math.sin(2 * (a - b)), Math.cos(2 * (a - b)));

test('partAxis: the axis of a bar at any angle, its elongation, none on a disc or a blank frame', () => {
  for (const d of [0, 30, 75, 90, 135, -60]) {
    const axis = partAxis(part(deg(d), 40, 8));
    assert.ok(axis);
    assert.ok(Math.abs(axisTurn(axis.angle, deg(d))) < deg(3), `${d}°: found ${((axis.angle * 180) / Math.PI).toFixed(1)}°`);
    // A 40 × 8 bar: √(λ₁/λ₂) is its length over its width.
    assert.ok(axis.elongation > 4 && axis.elongation < 6, `${d}°: elongation ${axis.elongation}`);
  }
  const disc = partAxis(part(0, 30, 30));
  assert.ok(disc && disc.elongation < 1.1, `a disc has no axis: ${disc?.elongation}`);
  const blank = part(0, 0, 1);
  assert.equal(partAxis(blank), null);
});

test('orientationSpread and chooseTurns: the turns only for elongated parts at spread angles, on square frames that fit', () => {
  const bars = (angles: number[]) => angles.map((d) => partAxis(part(deg(d), 40, 8)));
  const square = { square: true, turnsFit: true };

  const everyAngle = orientationSpread(bars(Array.from({ length: 24 }, (_, i) => i * 15)));
  assert.equal(everyAngle.photos, 24);
  assert.equal(everyAngle.withAxis, 24);
  assert.ok(everyAngle.resultant !== null && everyAngle.resultant < 0.05, `resultant ${everyAngle.resultant}`);
  assert.deepEqual(chooseTurns(everyAngle, square), { learned: '90', reason: 'any-angle', spread: everyAngle });
  assert.equal(chooseTurns(everyAngle, { square: false, turnsFit: true }).reason, 'not-square');
  assert.equal(chooseTurns(everyAngle, { square: true, turnsFit: false }).reason, 'over-capacity');
  assert.equal(chooseTurns(everyAngle, { square: false, turnsFit: true }).learned, 'none');

  // Within ±12° of one angle, and a part whose head is left or right (θ and θ + π: one axis).
  const oneWay = orientationSpread(bars([28, 31, 40, 22, 35, 30, 210, 205, 215, 30]));
  assert.ok(oneWay.resultant !== null && oneWay.resultant > 0.9, `resultant ${oneWay.resultant}`);
  assert.deepEqual(chooseTurns(oneWay, square), { learned: 'none', reason: 'one-orientation', spread: oneWay });

  // Two orientations a quarter turn apart are spread: the turns cover both.
  assert.equal(chooseTurns(orientationSpread(bars([0, 90, 0, 90, 0, 90, 0, 90])), square).learned, '90');

  const discs = orientationSpread(Array.from({ length: 10 }, (_, i) => partAxis(part(deg(i * 30), 30, 30))));
  assert.equal(discs.withAxis, 0);
  assert.equal(discs.resultant, null);
  assert.deepEqual(chooseTurns(discs, square), { learned: 'none', reason: 'no-axis', spread: discs });

  // Fewer than three in four photos with an axis: not the same elongated part, whatever its angles.
  const mixed = [...bars([0, 45, 90, 135, 60]), ...Array.from({ length: 5 }, () => partAxis(part(0, 30, 30))), null];
  assert.equal(chooseTurns(orientationSpread(mixed), square).reason, 'no-axis');
  assert.equal(chooseTurns(orientationSpread([]), square).reason, 'no-axis');
  assert.ok(partAxis(part(0, 40, 8))!.elongation >= AXIS_ELONGATION);
});

test('sampleIndices: all photos up to the sample size, else that many spread over all of them', () => {
  assert.deepEqual(sampleIndices(5), [0, 1, 2, 3, 4]);
  const many = sampleIndices(1000);
  assert.equal(many.length, ORIENTATION_SAMPLE);
  assert.equal(new Set(many).size, ORIENTATION_SAMPLE);
  assert.ok(many[0] < 1000 / ORIENTATION_SAMPLE && many.at(-1)! >= 1000 - 1000 / ORIENTATION_SAMPLE, `${many[0]} … ${many.at(-1)}`);
  assert.ok(
    many.every((v, i) => i === 0 || v > many[i - 1]),
    'ascending',
  );
});

test('decideTurns: reads a sample of the photos for auto only, and none under align', async () => {
  const unread = async (): Promise<PreparedImage> => assert.fail('a set or aligned line reads no photo');
  assert.deepEqual(await decideTurns({ setting: '180', align: 'none', photos: 10, prepare: unread, turnsFit: true }), {
    learned: '180',
    reason: 'set',
    spread: null,
  });
  assert.deepEqual(await decideTurns({ setting: 'auto', align: 'axis', photos: 10, prepare: unread, turnsFit: true }), {
    learned: 'none',
    reason: 'aligned',
    spread: null,
  });
  const read: number[] = [];
  const anyAngle = await decideTurns({
    setting: 'auto',
    align: 'none',
    photos: 200,
    prepare: async (i) => {
      read.push(i);
      // Photo 7 was deleted since the build started.
      return i === 7 ? null : part(deg(i * 37), 40, 8);
    },
    turnsFit: true,
  });
  assert.deepEqual(read, sampleIndices(200));
  assert.equal(anyAngle.learned, '90');
  assert.equal(anyAngle.spread!.photos, read.filter((i) => i !== 7).length);
  const wide = await decideTurns({
    setting: 'auto',
    align: 'none',
    photos: 12,
    prepare: async (i) => part(deg(i * 37), 40, 8, 64, 96),
    turnsFit: true,
  });
  assert.deepEqual([wide.learned, wide.reason], ['none', 'not-square']);
});
