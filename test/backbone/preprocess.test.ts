import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { computeGeometry, prepareImage, probeImage, roundHalfEven } from '../../src/backbone/preprocess.js';
import { turnPrepared, viewTurns } from '../../src/backbone/rotate.js';
import type { PreparedImage } from '../../src/backbone/types.js';
import { isAppError } from '../../src/common/errors.js';

async function expectCode(p: Promise<unknown>, code: string, status: number): Promise<void> {
  await assert.rejects(p, (err: unknown) => isAppError(err) && err.code === code && err.status === status);
}

test('round half to even, as Python rounds crop offsets', () => {
  assert.deepEqual([16.5, 17.5, 16, 0.5, 1.5, 2.4].map(roundHalfEven), [16, 18, 16, 0, 2, 2]);
});

test('geometry follows torchvision: shorter side to 256, long side floored, centre crop', () => {
  const g = computeGeometry(300, 257, { resize: 256, crop: 224 });
  assert.deepEqual([g.resizedWidth, g.resizedHeight], [298, 256]);
  assert.deepEqual([g.cropLeft, g.cropTop], [37, 16]); // round(37) and round(16)
  const tall = computeGeometry(257, 300, { resize: 256, crop: 224 });
  assert.deepEqual([tall.resizedWidth, tall.resizedHeight, tall.cropLeft, tall.cropTop], [256, 298, 16, 37]);
  const odd = computeGeometry(256, 289, { resize: null, crop: 224 }); // (289 − 224)/2 = 32.5 → 32
  assert.equal(odd.cropTop, 32);
  const whole = computeGeometry(640, 480, { resize: 240, crop: null });
  assert.deepEqual([whole.cropWidth, whole.cropHeight, whole.cropLeft, whole.cropTop], [320, 240, 0, 0]);
});

test('grey and alpha images become planar RGB; values are 0..255 floats', async () => {
  const grey = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 77, g: 77, b: 77 } } })
    .greyscale()
    .png()
    .toBuffer();
  const img = await prepareImage(grey, { resize: null, crop: null });
  assert.equal(img.data.length, 3 * 40 * 30);
  assert.deepEqual([img.data[0], img.data[1200], img.data[2400]], [77, 77, 77]);
  const rgba = await sharp({ create: { width: 20, height: 20, channels: 4, background: { r: 10, g: 20, b: 30, alpha: 0.5 } } })
    .png()
    .toBuffer();
  const c = await prepareImage(rgba, { resize: null, crop: null });
  assert.deepEqual([c.data[0], c.data[400], c.data[800]], [10, 20, 30]);
});

test('EXIF orientation is honoured: a rotated JPEG is decoded upright', async () => {
  // 40×20 image: left half red, right half blue; stored with orientation 6 (rotate 90° clockwise to view).
  const raw = Buffer.alloc(40 * 20 * 3);
  for (let y = 0; y < 20; y++) for (let x = 0; x < 40; x++) raw.set(x < 20 ? [255, 0, 0] : [0, 0, 255], (y * 40 + x) * 3);
  const jpeg = await sharp(raw, { raw: { width: 40, height: 20, channels: 3 } })
    .jpeg({ quality: 95 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
  const info = await probeImage(jpeg, 1e6);
  assert.deepEqual([info.width, info.height], [20, 40]);
  const img = await prepareImage(jpeg, { resize: null, crop: null });
  assert.deepEqual([img.width, img.height], [20, 40]);
  // After a clockwise rotation the left (red) half is on top.
  const plane = 20 * 40;
  assert.ok(img.data[5 * 20 + 10] > 200 && img.data[2 * plane + 5 * 20 + 10] < 60, 'top should be red');
  assert.ok(img.data[35 * 20 + 10] < 60 && img.data[2 * plane + 35 * 20 + 10] > 200, 'bottom should be blue');
});

test('bad inputs get catalogued errors: unsupported format, undecodable bytes, too many pixels', async () => {
  const gif = await sharp({ create: { width: 8, height: 8, channels: 3, background: 'white' } })
    .gif()
    .toBuffer();
  await expectCode(probeImage(gif, 1e6), 'unsupported_media_type', 415);
  await expectCode(probeImage(Buffer.from('definitely not an image'), 1e6), 'unsupported_media_type', 415);
  const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: 'white' } })
    .png()
    .toBuffer();
  await expectCode(probeImage(png, 1000), 'unprocessable', 422);
  await expectCode(prepareImage(png.subarray(0, png.length - 40), { resize: null, crop: null }), 'unprocessable', 422);
});

test('resize and crop give the network size and keep the geometry', async () => {
  const png = await sharp({ create: { width: 451, height: 300, channels: 3, background: 'white' } })
    .png()
    .toBuffer();
  const img = await prepareImage(png, { resize: 256, crop: 224 });
  assert.deepEqual([img.width, img.height], [224, 224]);
  assert.deepEqual(img.geometry, {
    originalWidth: 451,
    originalHeight: 300,
    resizedWidth: 384,
    resizedHeight: 256,
    cropLeft: 80,
    cropTop: 16,
    cropWidth: 224,
    cropHeight: 224,
  });
});

test('turnPrepared: clockwise quarter turns are exact pixel permutations, as sharp turns; a quarter turn needs a square frame', async () => {
  const geometry = computeGeometry(3, 3, { resize: null, crop: null });
  const img = { data: Float32Array.from({ length: 27 }, (_, i) => i), width: 3, height: 3, geometry };
  const at = (im: { data: Float32Array; width: number; height: number }, c: number, x: number, y: number): number =>
    im.data[c * im.width * im.height + y * im.width + x];
  const q = turnPrepared(img, 1);
  // Clockwise: the top-left pixel goes to the top-right, the bottom-left to the top-left.
  for (let c = 0; c < 3; c++) {
    assert.equal(at(q, c, 2, 0), at(img, c, 0, 0));
    assert.equal(at(q, c, 0, 0), at(img, c, 0, 2));
    assert.equal(at(q, c, 2, 2), at(img, c, 2, 0));
  }
  let back: PreparedImage = img;
  for (let t = 0; t < 4; t++) back = turnPrepared(back, 1);
  assert.deepEqual(back.data, img.data, 'four quarter turns are the photo');
  assert.deepEqual(turnPrepared(turnPrepared(img, 1), 1).data, turnPrepared(img, 2).data);
  assert.deepEqual(turnPrepared(turnPrepared(img, 2), 1).data, turnPrepared(img, 3).data);
  assert.equal(turnPrepared(img, 0), img);

  const wide = {
    data: Float32Array.from({ length: 3 * 6 }, (_, i) => i),
    width: 3,
    height: 2,
    geometry: computeGeometry(3, 2, { resize: null, crop: null }),
  };
  const half = turnPrepared(wide, 2);
  assert.equal(half.width, 3);
  assert.equal(at(half, 1, 0, 0), at(wide, 1, 2, 1));
  assert.throws(
    () => turnPrepared(wide, 1),
    (err: unknown) => isAppError(err) && err.code === 'unprocessable' && /square/.test(err.message),
  );
  // The same turn as sharp's on a decoded photo.
  const raw = Buffer.from(Array.from({ length: 5 * 5 * 3 }, (_, i) => (i * 37) % 256));
  const png = await sharp(raw, { raw: { width: 5, height: 5, channels: 3 } })
    .png()
    .toBuffer();
  const opts = { resize: null, crop: null };
  const prepared = await prepareImage(png, opts);
  for (const turns of [1, 2, 3]) {
    const bySharp = await prepareImage(
      await sharp(png)
        .rotate(turns * 90)
        .png()
        .toBuffer(),
      opts,
    );
    assert.deepEqual(turnPrepared(prepared, turns).data, bySharp.data, `${turns * 90}°`);
  }
  assert.deepEqual(viewTurns('none'), [0]);
  assert.deepEqual(viewTurns('180'), [0, 2]);
  assert.deepEqual(viewTurns('90'), [0, 1, 2, 3]);
});
