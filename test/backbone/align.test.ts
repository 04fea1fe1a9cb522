/**
 * Part alignment (`align.ts`): the pose of a part drawn at a known angle and place is found, every
 * pose of the same part aligns to the same picture, the mapping back is the inverse of the mapping
 * in, and a frame without a part is left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignedToFrame, alignPrepared, frameToAligned, partPose } from '../../src/backbone/align.js';
import type { PreparedImage } from '../../src/backbone/types.js';

const W = 96;
const H = 80;

/**
 * A rod with a wide head at one end (a screw's shape), `tone` on a tray of `tray`, its head-to-tip
 * direction at `angle` (radians, clockwise on screen) and the middle of its extent at (cx, cy).
 */
function rod(angle: number, cx: number, cy: number, tone = 40, tray = 200): PreparedImage {
  const data = new Float32Array(3 * W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const dx = x + 0.5 - cx;
      const dy = y + 0.5 - cy;
      const u = Math.cos(angle) * dx + Math.sin(angle) * dy;
      const v = -Math.sin(angle) * dx + Math.cos(angle) * dy;
      const part = (u >= -30 && u < -24 && Math.abs(v) < 9) || (u >= -24 && u < 30 && Math.abs(v) < 3.5);
      const g = part ? tone + (u > 0 && Math.floor(u / 3) % 2 === 0 ? 20 : 0) : tray;
      for (let c = 0; c < 3; c++) data[c * W * H + y * W + x] = g;
    }
  }
  const geometry = {
    originalWidth: W,
    originalHeight: H,
    resizedWidth: W,
    resizedHeight: H,
    cropLeft: 0,
    cropTop: 0,
    cropWidth: W,
    cropHeight: H,
  };
  return { data, width: W, height: H, geometry };
}

/** Difference of two angles folded into (−π, π]. */
const turn = (a: number, b: number): number => Math.atan2(Math.sin(a - b), Math.cos(a - b));

const meanAbsDiff = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;

test('partPose finds the angle of the head-to-tip axis and the middle of the part', () => {
  for (const [deg, cx, cy] of [
    [0, 48, 40],
    [35, 45, 42],
    [90, 50, 38],
    [160, 47, 41],
    [250, 49, 40],
    [-20, 44, 37],
  ]) {
    const a = (deg * Math.PI) / 180;
    const pose = partPose(rod(a, cx, cy));
    assert.ok(Math.abs(turn(pose.angle, a)) < (3 * Math.PI) / 180, `${deg}°: found ${((pose.angle * 180) / Math.PI).toFixed(1)}°`);
    assert.ok(
      Math.hypot(pose.cx - cx, pose.cy - cy) < 1.5,
      `${deg}°: centre (${pose.cx.toFixed(2)}, ${pose.cy.toFixed(2)}) vs (${cx}, ${cy})`,
    );
  }
});

test('every pose of a part aligns to the same picture, a light part on a dark tray too', () => {
  for (const [tone, tray] of [
    [40, 200],
    [230, 30],
  ]) {
    const reference = alignPrepared(rod(0, 48, 40, tone, tray));
    for (const deg of [35, 120, 200, 300]) {
      const aligned = alignPrepared(rod((deg * Math.PI) / 180, 44 + (deg % 7), 38 + (deg % 5), tone, tray));
      const d = meanAbsDiff(aligned.data, reference.data);
      // Resampling blurs the thin threads a little; a part left turned differs by tens of levels.
      assert.ok(d < 4, `tone ${tone}, ${deg}°: mean difference ${d.toFixed(2)}`);
      assert.ok(aligned.geometry.pose, 'the pose travels with the geometry');
    }
    const unaligned = rod(Math.PI / 2, 48, 40, tone, tray);
    assert.ok(meanAbsDiff(unaligned.data, reference.data) > 10, 'the check can tell a turned part');
  }
});

test('frameToAligned undoes alignedToFrame', () => {
  const pose = { cx: 41.3, cy: 37.9, angle: 2.2 };
  for (const [X, Y] of [
    [0, 0],
    [96, 80],
    [13.5, 61.25],
  ]) {
    const [x, y] = alignedToFrame(pose, W, H)(X, Y);
    const [X2, Y2] = frameToAligned(pose, W, H)(x, y);
    assert.ok(Math.abs(X2 - X) < 1e-9 && Math.abs(Y2 - Y) < 1e-9, `(${X}, ${Y}) → (${X2}, ${Y2})`);
  }
});

test('a frame without a part is left as it is', () => {
  const blank = { ...rod(0, 48, 40), data: new Float32Array(3 * W * H).fill(200) };
  const pose = partPose(blank);
  assert.deepEqual(pose, { cx: W / 2, cy: H / 2, angle: 0 });
  assert.ok(meanAbsDiff(alignPrepared(blank, pose).data, blank.data) < 1e-6);
});
