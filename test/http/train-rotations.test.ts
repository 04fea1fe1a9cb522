/**
 * `trainRotations` over HTTP with the real backbone (issue 15): a line whose parts lie at any angle
 * learns each photo turned too, so a part turned by a quarter turn is good; a line left at the
 * default (`auto`) whose photos show a round part learns no turns and still flags it, which is
 * what a line where orientation matters needs, while a default line whose photos show a long part
 * at every angle learns the turns by itself. The setting and the decision are recorded with the
 * bank, each photo is reported once, and frames that cannot be turned by a quarter turn are
 * refused with the reason.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { rodPhoto } from '../../src/eval/synthetic-parts.js';
import { call, form, partImage, type TestServer, startServer } from './server.js';

let srv: TestServer;

before(async () => {
  srv = await startServer();
});

after(async () => {
  await srv?.close(true);
});

async function build(line: string): Promise<{ id: string; status: string; error: unknown }> {
  const started = await call(srv.url, 'POST', `/v1/lines/${line}/builds`);
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const t0 = Date.now();
  for (;;) {
    const b = await call(srv.url, 'GET', `/v1/lines/${line}/builds/${started.body.id}`);
    if (!['queued', 'running'].includes(b.body.status)) return b.body;
    if (Date.now() - t0 > 300_000) assert.fail(`build still ${b.body.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A line of 12 training photos; `trainRotations` null leaves the line's default. */
async function line(id: string, trainRotations: string | null, photo: (i: number) => Promise<Buffer>): Promise<void> {
  const created = await call(srv.url, 'POST', '/v1/lines', trainRotations === null ? { id } : { id, config: { trainRotations } });
  assert.equal(created.status, 201);
  const train = await Promise.all(Array.from({ length: 12 }, (_, i) => photo(i)));
  const up = await call(srv.url, 'POST', `/v1/lines/${id}/images`, form(train.map((bytes, i) => ({ name: `good-${i}.png`, bytes }))));
  assert.equal(up.status, 200, JSON.stringify(up.body));
}

async function inspect(id: string, photos: Buffer[]): Promise<{ anomalous: boolean; score: number; threshold: number }[]> {
  const res = await call(srv.url, 'POST', `/v1/lines/${id}/inspect`, form(photos.map((bytes, i) => ({ name: `p${i}.png`, bytes }))));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.results;
}

test('a part turned by a quarter turn: good on a line that learns turned photos, anomalous on a default line', async () => {
  // Horizontal stripes behind the part: turned, they run vertically, a pose no training photo shows.
  const photo = (i: number): Promise<Buffer> => partImage(300 + i);
  await line('any-angle', '90', photo);
  await line('fixed-angle', null, photo);
  const builds = [];
  for (const id of ['any-angle', 'fixed-angle']) {
    const done = await build(id);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    builds.push(done);
  }
  const meta = JSON.parse(await readFile(path.join(srv.config.dataDir, 'lines', 'any-angle', 'banks', '1', 'meta.json'), 'utf8'));
  assert.equal(meta.config.trainRotations, '90', 'the bank records the setting');
  assert.deepEqual(meta.turns, { learned: '90', reason: 'set', spread: null });
  const fixed = JSON.parse(await readFile(path.join(srv.config.dataDir, 'lines', 'fixed-angle', 'banks', '1', 'meta.json'), 'utf8'));
  assert.equal(fixed.config.trainRotations, 'auto');
  assert.equal(fixed.turns.learned, 'none', 'a ring has no axis: the default line learns no turns');
  assert.equal(fixed.turns.reason, 'no-axis');
  assert.equal(fixed.turns.spread.photos, 12);
  assert.equal(meta.trainingImages.length, 12);
  assert.equal(meta.calibration.imageScores.length, 12, 'calibrated per photo');
  const report = await call(srv.url, 'GET', `/v1/lines/any-angle/builds/${builds[0].id}/noise-report`);
  assert.equal(report.status, 200, JSON.stringify(report.body));
  assert.equal(report.body.images.length, 12, 'each photo once, not once per view');

  const turned = await sharp(await partImage(400))
    .rotate(90)
    .png()
    .toBuffer();
  const stained = await partImage(401, { defect: { x: 20, y: 20, size: 20 } });
  const upright = await partImage(402);
  const [anyTurned, anyStained, anyUpright] = await inspect('any-angle', [turned, stained, upright]);
  const [fixedTurned, , fixedUpright] = await inspect('fixed-angle', [turned, stained, upright]);
  assert.equal(anyTurned.anomalous, false, `turned part on the any-angle line: ${anyTurned.score} vs ${anyTurned.threshold}`);
  assert.equal(anyUpright.anomalous, false, `upright part: ${anyUpright.score} vs ${anyUpright.threshold}`);
  assert.equal(anyStained.anomalous, true, `a stain is still a defect: ${anyStained.score} vs ${anyStained.threshold}`);
  assert.equal(fixedUpright.anomalous, false);
  assert.equal(fixedTurned.anomalous, true, `turned part on the default line: ${fixedTurned.score} vs ${fixedTurned.threshold}`);
});

test('a default line whose photos show a long part at every angle learns the turns by itself', async () => {
  const rod = (i: number) => ({ seed: 800 + i, angle: i * 29 + 7, cx: 64 + ((i * 5) % 7) - 3, cy: 64 + ((i * 3) % 7) - 3 });
  await line('rods', null, (i) => rodPhoto(rod(i)));
  const done = await build('rods');
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  const got = await call(srv.url, 'GET', '/v1/lines/rods');
  assert.equal(got.body.config.trainRotations, 'auto');
  const turns = got.body.activeBank.turns;
  assert.deepEqual([turns.learned, turns.reason], ['90', 'any-angle'], JSON.stringify(turns));
  assert.equal(turns.spread.photos, 12);
  assert.equal(turns.spread.withAxis, 12);
  assert.ok(turns.spread.resultant < 0.5, JSON.stringify(turns));

  // A good rod at an angle between the training ones is good, a stained one anomalous.
  const [good, stained] = await inspect('rods', [
    await rodPhoto({ seed: 950, angle: 111, cx: 63, cy: 65 }),
    await rodPhoto({ seed: 951, angle: 250, cx: 65, cy: 63, stainAt: 18 }),
  ]);
  assert.equal(good.anomalous, false, `good rod: ${good.score} vs ${good.threshold}`);
  assert.equal(stained.anomalous, true, `stained rod: ${stained.score} vs ${stained.threshold}`);
});

test('trainRotations "90" on frames that are not square is refused before a build is queued, with the reason; "180" builds', async () => {
  const wide = (i: number): Promise<Buffer> => partImage(600 + i, { width: 160, height: 120 });
  await line('wide-90', '90', wide);
  const refused = await call(srv.url, 'POST', '/v1/lines/wide-90/builds');
  assert.equal(refused.status, 422, JSON.stringify(refused.body));
  assert.equal(refused.body.error.code, 'unprocessable');
  assert.match(refused.body.error.message, /square/);
  assert.equal((await call(srv.url, 'GET', '/v1/lines/wide-90/builds')).body.builds.length, 0, 'nothing queued');
  await line('wide-180', '180', wide);
  const done = await build('wide-180');
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
});
