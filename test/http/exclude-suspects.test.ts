/**
 * `excludeSuspects` over HTTP with the real backbone: the stored bank holds no memory row of a
 * noise-report suspect, and its metadata records the switch.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { call, form, partImage, startServer, tempDataDir, type TestServer } from './server.js';

const LINE = 'parts';
/** As test/http/flow.test.ts: 128 × 128 photos, crop 112 → a 14 × 14 patch grid. */
const LINE_CONFIG = { resize: 128, crop: 112, coresetRatio: 0.25, removalQuantile: 0.1, excludeSuspects: true };

let srv: TestServer | undefined;
after(async () => {
  await srv?.close(true);
});

test('excludeSuspects: no bank row comes from a suspect; meta.json records the switch', async () => {
  const dataDir = await tempDataDir();
  srv = await startServer({ DATA_DIR: dataDir, MAX_PIXELS: '100000' });
  const req = (method: string, url: string, body?: unknown) => call(srv!.url, method, url, body);
  assert.equal((await req('POST', '/v1/lines', { id: LINE, config: LINE_CONFIG })).status, 201);
  const files = [];
  for (let i = 0; i < 24; i++) files.push({ name: `good-${i}.png`, bytes: await partImage(100 + i) });
  for (let i = 0; i < 3; i++)
    files.push({ name: `defect-${i}.png`, bytes: await partImage(200 + i, { defect: { x: 56 - 8 * i, y: 24, size: 28 } }) });
  assert.equal((await req('POST', `/v1/lines/${LINE}/images`, form(files))).status, 200);
  const started = await req('POST', `/v1/lines/${LINE}/builds`);
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const t0 = Date.now();
  let build = started.body;
  while (['queued', 'running'].includes(build.status)) {
    assert.ok(Date.now() - t0 < 120_000, 'build timed out');
    await new Promise((r) => setTimeout(r, 50));
    build = (await req('GET', `/v1/lines/${LINE}/builds/${started.body.id}`)).body;
  }
  assert.equal(build.status, 'succeeded', JSON.stringify(build.error));

  const report = (await req('GET', `/v1/lines/${LINE}/builds/${started.body.id}/noise-report`)).body;
  type Entry = { id: string; filename: string; suspect: boolean; leftOut: boolean };
  const images = report.images as Entry[];
  const leftOut = new Set(images.filter((e) => e.leftOut).map((e) => e.id));
  for (const e of images) {
    if (e.filename.startsWith('defect-')) assert.ok(e.suspect, `${e.filename} is a suspect`);
    if (e.suspect) assert.ok(e.leftOut, `suspect ${e.filename} is left out`);
  }
  assert.match(report.rule, /excludeSuspects/);

  const dir = path.join(dataDir, 'lines', LINE, 'banks', '1');
  const meta = JSON.parse(await readFile(path.join(dir, 'meta.json'), 'utf8'));
  assert.equal(meta.config.excludeSuspects, true);
  assert.equal(meta.config.suspectRebuild, 'repair', 'the default way to choose the bank again');
  const bytes = await readFile(path.join(dir, 'cls.sourceImage.bin'));
  const sources = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  assert.equal(sources.length, meta.rows.cls);
  const leftIdx = new Set((meta.trainingImages as string[]).flatMap((id, b) => (leftOut.has(id) ? [b] : [])));
  assert.equal(leftIdx.size, leftOut.size);
  assert.ok(!sources.some((b) => leftIdx.has(b)), 'a bank row from a photo left out');
  // ρ rows per patch of the other photos (14 × 14 patches each).
  assert.equal(meta.rows.cls, Math.floor(0.25 * (meta.trainingImages.length - leftOut.size) * 196));
  assert.deepEqual([...meta.calibration.excluded].sort(), [...leftOut].sort());
  // The threshold rests on the new bank's scores of the others.
  assert.equal(meta.calibration.basis, meta.trainingImages.length - leftOut.size);
});
