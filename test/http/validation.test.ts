/**
 * Labelled validation photos, bank evaluations, the `validation` threshold policy, inspecting with
 * a stored bank that is not active (?bank=) and the removal overlays of the noise report, against
 * a real server with the real backbone and generated part photos.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { call, form, partImage, startServer, type Defect, type Json, type TestServer } from './server.js';

const LINE = 'val';
const LINE_CONFIG = { resize: 128, crop: 112, coresetRatio: 0.25, removalQuantile: 0.1, suspectShare: 0.38 };
const TRAIN_DEFECT: Defect = { x: 64, y: 24, size: 28 };

let srv: TestServer;
const req = (method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<Json> =>
  call(srv.url, method, url, body, headers);

function assertError(res: Json, status: number, code: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error?.code, code, JSON.stringify(res.body));
  assert.ok(res.body.error.message.length > 10);
}

async function waitForBuild(id: string): Promise<Json['body']> {
  for (const t0 = Date.now(); Date.now() - t0 < 180_000; await new Promise((r) => setTimeout(r, 50))) {
    const b = await req('GET', `/v1/lines/${LINE}/builds/${id}`);
    if (!['queued', 'running'].includes(b.body.status)) return b.body;
  }
  assert.fail(`build ${id} did not finish`);
}

async function build(config?: object): Promise<Json['body']> {
  const started = await req('POST', `/v1/lines/${LINE}/builds`, config ? { config } : undefined);
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const done = await waitForBuild(started.body.id);
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  return done;
}

const goodVal: Buffer[] = [];
const badVal: Buffer[] = [];
let defectTrainId = '';
let cleanTrainId = '';

before(async () => {
  srv = await startServer({ MAX_PIXELS: '100000' });
  const train = [];
  for (let i = 0; i < 20; i++) train.push({ name: `good-${i}.png`, bytes: await partImage(500 + i) });
  for (let i = 0; i < 3; i++)
    train.push({ name: `defect-${i}.png`, bytes: await partImage(600 + i, { defect: { ...TRAIN_DEFECT, x: TRAIN_DEFECT.x - 8 * i } }) });
  for (let i = 0; i < 4; i++) goodVal.push(await partImage(700 + i));
  for (let i = 0; i < 4; i++) badVal.push(await partImage(800 + i, { defect: { x: 20 + 10 * i, y: 60, size: 18 } }));
  assert.equal((await req('POST', '/v1/lines', { id: LINE, config: LINE_CONFIG })).status, 201);
  const up = await req('POST', `/v1/lines/${LINE}/images`, form(train));
  assert.equal(up.body.stored, 23);
  defectTrainId = up.body.files.find((f: { filename: string }) => f.filename === 'defect-0.png').id;
  cleanTrainId = up.body.files.find((f: { filename: string }) => f.filename === 'good-0.png').id;
});
after(async () => {
  await srv?.close(true);
});

test('validation uploads: a label is required and must be good or defective; listing counts each label', async () => {
  assertError(
    await req('POST', `/v1/lines/${LINE}/validation?label=broken`, form([{ name: 'x.png', bytes: goodVal[0] }])),
    400,
    'validation_failed',
  );
  assertError(await req('POST', `/v1/lines/${LINE}/validation`, form([{ name: 'x.png', bytes: goodVal[0] }])), 400, 'validation_failed');
  const fd = form([{ name: 'x.png', bytes: goodVal[0] }]);
  fd.append('label', 'scratched');
  assertError(await req('POST', `/v1/lines/${LINE}/validation`, fd), 400, 'validation_failed');
  assertError(await req('POST', `/v1/lines/nope/validation?label=good`, form([{ name: 'x.png', bytes: goodVal[0] }])), 404, 'not_found');
  // Nothing was stored by the refused requests.
  assert.equal((await req('GET', `/v1/lines/${LINE}/validation`)).body.total, 0);

  const good = await req(
    'POST',
    `/v1/lines/${LINE}/validation?label=good`,
    form(goodVal.slice(0, 2).map((bytes, i) => ({ name: `vgood-${i}.png`, bytes }))),
  );
  assert.equal(good.status, 200, JSON.stringify(good.body));
  assert.equal(good.body.stored, 2);
  assert.equal(good.body.label, 'good');
  // The label may also travel as a multipart field, after the files.
  const bad = form(badVal.slice(0, 2).map((bytes, i) => ({ name: `vbad-${i}.png`, bytes })));
  bad.append('label', 'defective');
  const b = await req('POST', `/v1/lines/${LINE}/validation`, bad);
  assert.equal(b.status, 200, JSON.stringify(b.body));
  assert.equal(b.body.label, 'defective');

  const list = await req('GET', `/v1/lines/${LINE}/validation?limit=3`);
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.counts, { good: 2, defective: 2 });
  assert.equal(list.body.total, 4);
  assert.equal(list.body.images.length, 3);
  const onlyBad = await req('GET', `/v1/lines/${LINE}/validation?label=defective`);
  assert.deepEqual(onlyBad.body.images.map((i: { filename: string; label: string }) => `${i.filename}:${i.label}`).sort(), [
    'vbad-0.png:defective',
    'vbad-1.png:defective',
  ]);
  // Validation photos are not training images.
  assert.equal((await req('GET', `/v1/lines/${LINE}/images`)).body.total, 23);
  const bytes = await fetch(`${srv.url}/v1/lines/${LINE}/validation/${list.body.images[0].id}`);
  assert.equal(bytes.status, 200);
  assert.equal(bytes.headers.get('content-type'), 'image/png');
});

test('too few validation photos: evaluate and policy "validation" are refused and the line stays as it was', async () => {
  const done = await build();
  assert.equal(done.bankVersion, 1);
  // Two of each label: the build did not evaluate.
  assertError(await req('GET', `/v1/lines/${LINE}/banks/1/evaluation`), 404, 'not_found');
  const ev = await req('POST', `/v1/lines/${LINE}/banks/1/evaluate`);
  assertError(ev, 422, 'too_few_validation_images');
  assert.deepEqual(ev.body.error.details, { good: 2, defective: 2, minimum: 3 });
  const before = await req('GET', `/v1/lines/${LINE}`);
  const patch = await req('PATCH', `/v1/lines/${LINE}`, { name: 'renamed', config: { threshold: { policy: 'validation', target: 'f1' } } });
  assertError(patch, 422, 'too_few_validation_images');
  const afterPatch = await req('GET', `/v1/lines/${LINE}`);
  assert.deepEqual(afterPatch.body.config, before.body.config);
  assert.equal(afterPatch.body.name, before.body.name);
  assertError(
    await req('POST', '/v1/lines', { id: 'fresh', config: { threshold: { policy: 'validation' } } }),
    422,
    'too_few_validation_images',
  );
  assertError(await req('GET', '/v1/lines/fresh'), 404, 'not_found');
});

test('evaluation: on demand, then after every build; figures agree with the scores', async () => {
  await req(
    'POST',
    `/v1/lines/${LINE}/validation?label=good`,
    form(goodVal.slice(2).map((bytes, i) => ({ name: `vgood-${i + 2}.png`, bytes }))),
  );
  await req(
    'POST',
    `/v1/lines/${LINE}/validation?label=defective`,
    form(badVal.slice(2).map((bytes, i) => ({ name: `vbad-${i + 2}.png`, bytes }))),
  );
  assertError(await req('POST', `/v1/lines/${LINE}/banks/9/evaluate`), 404, 'not_found');
  assertError(await req('GET', `/v1/lines/${LINE}/banks/9/evaluation`), 404, 'not_found');

  const ev = await req('POST', `/v1/lines/${LINE}/banks/1/evaluate`);
  assert.equal(ev.status, 200, JSON.stringify(ev.body));
  const e = ev.body;
  assert.deepEqual(e.images, { good: 4, defective: 4 });
  assert.equal(e.scores.length, 8);
  const line = await req('GET', `/v1/lines/${LINE}`);
  assert.equal(e.current.policy, 'auto');
  assert.equal(e.current.threshold, line.body.threshold);
  // Confusion counts recomputed from the scores.
  const flagged = (t: number, label: string) =>
    e.scores.filter((s: { score: number; label: string }) => s.label === label && s.score > t).length;
  assert.deepEqual(e.current.confusion, {
    tp: flagged(e.current.threshold, 'defective'),
    fn: 4 - flagged(e.current.threshold, 'defective'),
    fp: flagged(e.current.threshold, 'good'),
    tn: 4 - flagged(e.current.threshold, 'good'),
  });
  assert.equal(e.wrong.length, e.current.confusion.fp + e.current.confusion.fn);
  assert.ok(e.best.f1 >= e.current.f1);
  // The painted defects are obvious: the bank separates the labels.
  assert.ok(e.auroc > 0.9, `auroc ${e.auroc}`);
  assert.equal(e.best.f1, 1);
  const maxGood = Math.max(...e.scores.filter((s: { label: string }) => s.label === 'good').map((s: { score: number }) => s.score));
  const minBad = Math.min(...e.scores.filter((s: { label: string }) => s.label === 'defective').map((s: { score: number }) => s.score));
  assert.ok(e.best.threshold > maxGood && e.best.threshold < minBad, `best ${e.best.threshold} between ${maxGood} and ${minBad}`);
  // Stored with the bank.
  const stored = await req('GET', `/v1/lines/${LINE}/banks/1/evaluation`);
  assert.deepEqual(stored.body.scores, e.scores);

  const second = await build({ method: 'patchcore' });
  assert.equal(second.bankVersion, 2);
  assert.equal(typeof second.timingsMs.evaluating, 'number');
  const ev2 = await req('GET', `/v1/lines/${LINE}/banks/2/evaluation`);
  assert.equal(ev2.status, 200, 'evaluated after the build');
  assert.equal(ev2.body.bankVersion, 2);
  assert.equal(ev2.body.scores.length, 8);
});

test('?bank= scores with a stored bank that is not active; the answer names it; unknown versions are 404', async () => {
  const probe = badVal[0];
  const active = await req('POST', `/v1/lines/${LINE}/inspect`, form([{ name: 'p.png', bytes: probe }]));
  assert.deepEqual(active.body.bank, { version: 2, method: 'patchcore', active: true });
  const old = await req('POST', `/v1/lines/${LINE}/inspect?bank=1`, form([{ name: 'p.png', bytes: probe }]));
  assert.equal(old.status, 200, JSON.stringify(old.body));
  assert.deepEqual(old.body.bank, { version: 1, method: 'softpatch', active: false });
  const ev1 = (await req('GET', `/v1/lines/${LINE}/banks/1/evaluation`)).body;
  const recorded = ev1.scores.find((s: { filename: string }) => s.filename === 'vbad-0.png').score;
  assert.ok(Math.abs(old.body.results[0].score - recorded) <= 1e-4 * recorded, 'same score as the evaluation of bank 1');
  assert.notEqual(old.body.results[0].score, active.body.results[0].score);
  assert.equal((await req('GET', `/v1/lines/${LINE}`)).body.activeBank.version, 2, 'still bank 2');

  const png = await fetch(`${srv.url}/v1/lines/${LINE}/inspect.png?bank=1`, {
    method: 'POST',
    body: new Uint8Array(probe),
    headers: { 'content-type': 'image/png' },
  });
  assert.equal(png.status, 200);
  assert.equal(png.headers.get('x-bank-version'), '1');
  assert.equal(png.headers.get('x-bank-active'), 'false');
  assertError(await req('POST', `/v1/lines/${LINE}/inspect?bank=7`, form([{ name: 'p.png', bytes: probe }])), 404, 'not_found');
  const bad = await fetch(`${srv.url}/v1/lines/${LINE}/inspect.png?bank=7`, {
    method: 'POST',
    body: new Uint8Array(probe),
    headers: { 'content-type': 'image/png' },
  });
  assert.equal(bad.status, 404);
  assertError(await req('POST', `/v1/lines/${LINE}/inspect?bank=zero`, form([{ name: 'p.png', bytes: probe }])), 400, 'validation_failed');
});

test('policy "validation": decisions use the threshold chosen on the validation photos (f1, recall)', async () => {
  const f1 = await req('PATCH', `/v1/lines/${LINE}`, { config: { threshold: { policy: 'validation' } } });
  assert.equal(f1.status, 200, JSON.stringify(f1.body));
  assert.equal(f1.body.config.threshold.target, 'f1');
  const ev = (await req('GET', `/v1/lines/${LINE}/banks/2/evaluation`)).body;
  assert.equal(f1.body.threshold, ev.best.threshold);
  assert.equal(ev.current.policy, 'validation');
  assert.equal(ev.current.threshold, ev.best.threshold);
  const r = await req('POST', `/v1/lines/${LINE}/inspect`, form([{ name: 'p.png', bytes: goodVal[0] }]));
  assert.equal(r.body.results[0].threshold, ev.best.threshold);

  const recall = await req('PATCH', `/v1/lines/${LINE}`, { config: { threshold: { policy: 'validation', target: 'recall', recall: 1 } } });
  assert.equal(recall.status, 200, JSON.stringify(recall.body));
  const minBad = Math.min(...ev.scores.filter((s: { label: string }) => s.label === 'defective').map((s: { score: number }) => s.score));
  assert.ok(recall.body.threshold < minBad, 'every defective validation photo is flagged');
  const below = ev.scores.filter((s: { score: number }) => s.score < minBad).map((s: { score: number }) => s.score);
  assert.ok(recall.body.threshold > Math.max(...below), 'and no lower than needed');
  assertError(
    await req('PATCH', `/v1/lines/${LINE}`, { config: { threshold: { policy: 'validation', target: 'precision' } } }),
    400,
    'validation_failed',
  );

  // Rolling back to an old bank under the policy keeps working (bank 1 was evaluated).
  const back = await req('POST', `/v1/lines/${LINE}/banks/1/activate`);
  assert.equal(back.status, 200);
  assert.equal(typeof back.body.threshold, 'number');
  await req('PATCH', `/v1/lines/${LINE}`, { config: { threshold: { policy: 'auto' } } });
});

test('removal overlay: the defective training photo is drawn with its removed patches; thumbnails; errors', async () => {
  const res = await fetch(`${srv.url}/v1/lines/${LINE}/banks/1/removal/${defectTrainId}`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/png');
  const tinted = async (png: Buffer) => {
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => data[info.channels * (y * info.width + x)] - data[info.channels * (y * info.width + x) + 1] >= 60;
    let n = 0;
    for (let y = 0; y < info.height; y++) for (let x = 0; x < info.width; x++) if (at(x, y)) n++;
    return { n, at, size: [info.width, info.height] };
  };
  const defect = await tinted(Buffer.from(await res.arrayBuffer()));
  assert.deepEqual(defect.size, [128, 128]);
  const clean = await tinted(Buffer.from(await (await fetch(`${srv.url}/v1/lines/${LINE}/banks/1/removal/${cleanTrainId}`)).arrayBuffer()));
  // The painted defect itself is tinted, and far more of this photo than of a clean one.
  assert.ok(defect.at(TRAIN_DEFECT.x + TRAIN_DEFECT.size / 2, TRAIN_DEFECT.y + TRAIN_DEFECT.size / 2), 'defect centre tinted');
  assert.ok(defect.n > 3 * clean.n, `tinted pixels: ${defect.n} on the defective photo, ${clean.n} on a clean one`);
  const thumb = await fetch(`${srv.url}/v1/lines/${LINE}/banks/1/removal/${defectTrainId}?size=48`);
  const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
  assert.deepEqual([meta.width, meta.height], [48, 48]);
  assertError(await req('GET', `/v1/lines/${LINE}/banks/1/removal/${'0'.repeat(64)}`), 404, 'not_found');
  assertError(await req('GET', `/v1/lines/${LINE}/banks/5/removal/${defectTrainId}`), 404, 'not_found');
});

test('deleting validation photos; the OpenAPI document lists the new routes', async () => {
  const list = await req('GET', `/v1/lines/${LINE}/validation`);
  const id = list.body.images[0].id;
  assert.equal((await req('DELETE', `/v1/lines/${LINE}/validation/${id}`)).status, 204);
  assertError(await req('DELETE', `/v1/lines/${LINE}/validation/${id}`), 404, 'not_found');
  assert.equal((await req('GET', `/v1/lines/${LINE}/validation`)).body.total, 7);

  const doc = await req('GET', '/openapi.json');
  const ops = Object.entries(doc.body.paths as Record<string, Record<string, unknown>>).flatMap(([p, m]) =>
    Object.keys(m).map((k) => `${k.toUpperCase()} ${p}`),
  );
  for (const op of [
    'POST /v1/lines/{line}/validation',
    'GET /v1/lines/{line}/validation',
    'GET /v1/lines/{line}/validation/{imageId}',
    'DELETE /v1/lines/{line}/validation/{imageId}',
    'POST /v1/lines/{line}/banks/{version}/evaluate',
    'GET /v1/lines/{line}/banks/{version}/evaluation',
    'GET /v1/lines/{line}/banks/{version}/removal/{imageId}',
  ])
    assert.ok(ops.includes(op), `${op} missing from the OpenAPI document`);
  const inspectParams = doc.body.paths['/v1/lines/{line}/inspect'].post.parameters.map((p: { name: string }) => p.name);
  assert.ok(inspectParams.includes('bank'));
  assert.ok(JSON.stringify(doc.body.paths['/v1/lines/{line}'].patch).includes('validation'), 'policy "validation" documented');
});
