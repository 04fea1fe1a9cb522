/**
 * `align: "axis"` over HTTP with the real backbone (issue 15): loose parts photographed at any
 * angle and place are turned onto their axis before they are learnt or inspected, so a good part
 * at an angle no training photo shows is good, a stained one is anomalous, and the stain's region
 * comes back where it is on the photo as uploaded. The setting is recorded with the bank, the
 * removal overlay is drawn on the photo as uploaded, and the setting refuses `trainRotations`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { buildBank } from '../helpers/line-ops.js';
import { type Rod, ROD_PHOTO_SIZE, rodPhoto, stainCentre } from '../../src/eval/synthetic-parts.js';
import { call, form, type TestServer, startServer } from './server.js';

let srv: TestServer;

before(async () => {
  srv = await startServer();
});

after(async () => {
  await srv?.close(true);
});

const SIZE = ROD_PHOTO_SIZE;

/** Training rods: angles all round the circle, placed a little off centre. */
const trainRod = (i: number): Rod => ({ seed: 700 + i, angle: i * 27 + 5, cx: 64 + ((i * 5) % 11) - 5, cy: 64 + ((i * 7) % 9) - 4 });

test('aligned parts: a good part at a new angle is good, a stained one anomalous with its region on the stain', async () => {
  assert.equal((await call(srv.url, 'POST', '/v1/lines', { id: 'loose', config: { align: 'axis' } })).status, 201);
  const train = await Promise.all(Array.from({ length: 12 }, (_, i) => rodPhoto(trainRod(i))));
  const up = await call(srv.url, 'POST', '/v1/lines/loose/images', form(train.map((bytes, i) => ({ name: `rod-${i}.png`, bytes }))));
  assert.equal(up.status, 200, JSON.stringify(up.body));
  assert.equal(await buildBank(srv.url, 'loose'), 1);
  const meta = JSON.parse(await readFile(path.join(srv.config.dataDir, 'lines', 'loose', 'banks', '1', 'meta.json'), 'utf8'));
  assert.equal(meta.config.align, 'axis', 'the bank records the setting');

  // Angles between and beyond the training ones, placed elsewhere.
  const good = { seed: 900, angle: 118, cx: 60, cy: 67 };
  const stained = [
    { seed: 901, angle: 200, cx: 66, cy: 61, stainAt: 20 },
    { seed: 902, angle: 305, cx: 62, cy: 64, stainAt: -15 },
  ];
  const photos = await Promise.all([good, ...stained].map(rodPhoto));
  const res = await call(
    srv.url,
    'POST',
    '/v1/lines/loose/inspect?regions=true',
    form(photos.map((bytes, i) => ({ name: `p${i}.png`, bytes }))),
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const [g, ...bad] = res.body.results;
  assert.equal(g.anomalous, false, `good rod at a new angle: ${g.score} vs ${g.threshold}`);
  for (const [k, r] of bad.entries()) {
    assert.equal(r.anomalous, true, `stained rod ${k}: ${r.score} vs ${r.threshold}`);
    const [sx, sy] = stainCentre(stained[k]);
    const top = r.regions[0];
    assert.ok(
      top.x <= sx && sx <= top.x + top.width && top.y <= sy && sy <= top.y + top.height,
      `stain at (${sx.toFixed(1)}, ${sy.toFixed(1)}) inside the top region ${JSON.stringify(top)}`,
    );
    assert.ok(top.width < SIZE / 2 && top.height < SIZE / 2, `the region is the stain, not the part: ${JSON.stringify(top)}`);
  }

  // The heatmap is drawn on the photo as uploaded: hottest where the stain is.
  const heat = await call(srv.url, 'POST', '/v1/lines/loose/inspect?heatmap=png', form([{ name: 'p.png', bytes: photos[1] }]));
  assert.equal(heat.status, 200);
  const map = await fetchHeatmapRed(heat.body.results[0]);
  const [sx, sy] = stainCentre(stained[0]);
  const far = stainCentre({ ...stained[0], stainAt: -30 });
  assert.ok(map(sx, sy) > map(far[0], far[1]), `heat at the stain ${map(sx, sy)} above heat at the head ${map(far[0], far[1])}`);

  // Removal overlay of a training photo: drawn at the photo's own size.
  const img = up.body.files[0].id;
  const overlay = await fetch(`${srv.url}/v1/lines/loose/banks/1/removal/${img}`);
  assert.equal(overlay.status, 200);
  const ometa = await sharp(Buffer.from(await overlay.arrayBuffer())).metadata();
  assert.deepEqual([ometa.width, ometa.height], [SIZE, SIZE]);
});

/** The red channel of a result's heatmap PNG, read at a photo position (turbo: red is hot). */
async function fetchHeatmapRed(result: { heatmap: string }): Promise<(x: number, y: number) => number> {
  const { data, info } = await sharp(Buffer.from(result.heatmap, 'base64')).raw().toBuffer({ resolveWithObject: true });
  return (x, y) => data[(Math.floor(y) * info.width + Math.floor(x)) * info.channels];
}

test('align "axis" with trainRotations is refused with the reason', async () => {
  const res = await call(srv.url, 'POST', '/v1/lines', { id: 'both', config: { align: 'axis', trainRotations: '90' } });
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body.error.code, 'validation_failed');
  assert.match(res.body.error.message, /align "axis" and trainRotations "90" exclude each other/);
});
