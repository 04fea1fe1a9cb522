/**
 * The HTTP contract without builds: health, request ids, OpenAPI, lines, uploads, limits, errors,
 * auth and metrics, against a real server on 127.0.0.1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { Validator } from '@seriousme/openapi-schema-validator';
import { call, form, partImage, startServer, type TestServer } from './server.js';

let srv: TestServer;
let png: Buffer;

before(async () => {
  srv = await startServer({ MAX_FILE_BYTES: String(200 * 1024), MAX_FILES: '6', MAX_INSPECT_FILES: '3', MAX_PIXELS: '100000' });
  png = await partImage(1);
});
after(async () => {
  await srv.close(true);
});

const req = (method: string, url: string, body?: unknown, headers?: Record<string, string>) => call(srv.url, method, url, body, headers);

function assertError(
  res: { status: number; body: { error?: { code?: string; message?: string }; requestId?: string } },
  status: number,
  code: string,
): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error?.code, code, JSON.stringify(res.body));
  assert.equal(typeof res.body.error?.message, 'string');
  assert.ok(res.body.requestId, 'every error carries the request id');
}

test('healthz and request ids: the caller id is echoed when printable and ≤ 128 chars, else generated', async () => {
  const a = await req('GET', '/healthz', undefined, { 'x-request-id': 'station-7/frame 0042' });
  assert.equal(a.status, 200);
  assert.deepEqual(a.body, { status: 'ok' });
  assert.equal(a.headers.get('x-request-id'), 'station-7/frame 0042');
  const long = await req('GET', '/healthz', undefined, { 'x-request-id': 'x'.repeat(129) });
  assert.ok(long.headers.get('x-request-id') && long.headers.get('x-request-id') !== 'x'.repeat(129));
  const none = await req('GET', '/v1/lines/nope');
  assert.equal(none.body.requestId, none.headers.get('x-request-id'), 'error body and header agree');
  const other = await req('GET', '/v1/lines/nope');
  assert.notEqual(none.body.requestId, other.body.requestId);
});

test('OpenAPI document is valid OpenAPI 3.1 and lists every /v1 operation; /docs answers', async () => {
  const doc = await req('GET', '/openapi.json');
  assert.equal(doc.status, 200);
  assert.equal(doc.body.openapi, '3.1.0');
  const validation = await new Validator().validate(doc.body);
  assert.equal(validation.valid, true, String(JSON.stringify(validation.errors)).slice(0, 2000));
  const ops = Object.entries(doc.body.paths as Record<string, Record<string, unknown>>).flatMap(([p, m]) =>
    Object.keys(m).map((k) => `${k.toUpperCase()} ${p}`),
  );
  for (const op of [
    'POST /v1/lines',
    'GET /v1/lines',
    'GET /v1/lines/{line}',
    'PATCH /v1/lines/{line}',
    'DELETE /v1/lines/{line}',
    'POST /v1/lines/{line}/images',
    'GET /v1/lines/{line}/images',
    'GET /v1/lines/{line}/images/{imageId}',
    'DELETE /v1/lines/{line}/images/{imageId}',
    'POST /v1/lines/{line}/builds',
    'GET /v1/lines/{line}/builds',
    'GET /v1/lines/{line}/builds/{buildId}',
    'POST /v1/lines/{line}/builds/{buildId}/cancel',
    'GET /v1/lines/{line}/builds/{buildId}/noise-report',
    'GET /v1/lines/{line}/banks',
    'POST /v1/lines/{line}/banks/{version}/activate',
    'POST /v1/lines/{line}/inspect',
    'POST /v1/lines/{line}/inspect.png',
  ])
    assert.ok(ops.includes(op), `${op} missing from the OpenAPI document`);
  const upload = doc.body.paths['/v1/lines/{line}/images'].post;
  assert.ok(upload.requestBody.content['multipart/form-data'], 'multipart body documented');
  const docs = await fetch(`${srv.url}/docs`, { redirect: 'follow' });
  assert.equal(docs.status, 200);
  assert.match(await docs.text(), /swagger/i);
});

test('lines: create with defaults, conflicts, validation, patch, list, delete', async () => {
  const created = await req('POST', '/v1/lines', { id: 'bottle', name: 'Bottles', config: { coresetRatio: 0.05 } });
  assert.equal(created.status, 201);
  assert.equal(created.body.id, 'bottle');
  assert.equal(created.body.config.coresetRatio, 0.05);
  assert.equal(created.body.config.method, 'softpatch');
  assert.equal(created.body.config.resize, 224);
  assert.equal(created.body.config.crop, null);
  assert.equal(created.body.config.discriminatorWindow, 0);
  assert.deepEqual(created.body.config.threshold, { policy: 'auto', sensitivity: 3.5, rule: 'fence', falseAlarmRate: 0.01 });
  assert.equal(created.body.config.suspectShare, 0.3);
  assert.equal(created.body.config.suspectEvidence, 'calibrationScore');
  assert.equal(created.body.config.suspectFence, 'gumbel');
  assert.equal(created.body.config.excludeSuspects, true);
  assert.equal(created.body.activeBank, null);
  assert.equal(created.body.images, 0);

  assertError(await req('POST', '/v1/lines', { id: 'bottle' }), 409, 'conflict');
  assertError(await req('POST', '/v1/lines', { id: '../etc' }), 400, 'validation_failed');
  assertError(await req('POST', '/v1/lines', { id: 'Upper' }), 400, 'validation_failed');
  assertError(await req('POST', '/v1/lines', { id: 'ok1', colour: 'red' }), 400, 'validation_failed');
  assertError(await req('POST', '/v1/lines', { id: 'ok1', config: { lofk: 5 } }), 400, 'validation_failed');
  assertError(await req('POST', '/v1/lines', { id: 'ok1', config: { coresetRatio: '0.1' } }), 400, 'validation_failed');
  assertError(await req('POST', '/v1/lines', { id: 'ok1', config: { coresetRatio: 1.5 } }), 400, 'validation_failed');
  assertError(await req('POST', '/v1/lines', { id: 'ok1', config: { threshold: { policy: 'fixed' } } }), 400, 'validation_failed');
  assertError(await req('POST', '/v1/lines', { id: 'ok1', config: { resize: 128, crop: 224 } }), 400, 'validation_failed');
  assertError(await req('POST', '/v1/lines', '{"id": "ok1"', { 'content-type': 'application/json' }), 400, 'bad_request');
  assertError(await req('POST', '/v1/lines', 'id=ok1', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
  assertError(await req('GET', '/v1/lines/missing'), 404, 'not_found');
  assertError(await req('GET', '/v1/lines/BAD..ID'), 400, 'validation_failed');
  assertError(await req('GET', '/v2/nothing'), 404, 'not_found');

  const patched = await req('PATCH', '/v1/lines/bottle', { name: 'Bottle line', config: { threshold: { policy: 'fixed', value: 2 } } });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.name, 'Bottle line');
  assert.deepEqual(patched.body.config.threshold, { policy: 'fixed', value: 2, sensitivity: 3.5, rule: 'fence', falseAlarmRate: 0.01 });
  assert.equal(patched.body.config.coresetRatio, 0.05, 'untouched settings stay');
  assertError(await req('PATCH', '/v1/lines/bottle', { id: 'other' }), 400, 'validation_failed');

  await req('POST', '/v1/lines', { id: 'cable' });
  const list = await req('GET', '/v1/lines');
  assert.deepEqual(
    list.body.lines.map((l: { id: string }) => l.id),
    ['bottle', 'cable'],
  );
  assert.deepEqual(list.body.lines[0], {
    id: 'bottle',
    name: 'Bottle line',
    createdAt: created.body.createdAt,
    images: 0,
    activeBank: null,
    lastBuild: null,
  });

  const del = await req('DELETE', '/v1/lines/cable');
  assert.equal(del.status, 204);
  assertError(await req('GET', '/v1/lines/cable'), 404, 'not_found');
  assertError(await req('DELETE', '/v1/lines/cable'), 404, 'not_found');
});

test('uploads: stored once per content, bad files rejected with reasons, limits stop the request', async () => {
  await req('POST', '/v1/lines', { id: 'up' });
  const jpeg = await partImage(2, { format: 'jpeg' });
  const truncated = png.subarray(0, Math.floor(png.length / 2));
  const large = await sharp({ create: { width: 400, height: 400, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
  const res = await req(
    'POST',
    '/v1/lines/up/images',
    form([
      { name: 'a.png', bytes: png },
      { name: 'dir/b.jpg', bytes: jpeg, type: 'image/jpeg' },
      { name: 'again.png', bytes: png },
      { name: 'notes.txt', bytes: Buffer.from('not an image'), type: 'text/plain' },
      { name: 'half.png', bytes: truncated },
      { name: 'large.png', bytes: large },
    ]),
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.stored, 2);
  assert.equal(res.body.duplicates, 1);
  assert.equal(res.body.rejected, 3);
  const [a, b, again, txt, half, wide] = res.body.files;
  assert.equal(a.status, 'stored');
  assert.match(a.id, /^[0-9a-f]{64}$/);
  assert.equal(a.width, 128);
  assert.equal(b.filename, 'b.jpg', 'directory parts of file names are dropped');
  assert.equal(again.status, 'duplicate');
  assert.equal(again.id, a.id);
  assert.equal(txt.status, 'rejected');
  assert.match(txt.reason, /format/i);
  assert.equal(half.status, 'rejected');
  assert.ok(half.reason.length > 0);
  assert.equal(wide.status, 'rejected');
  assert.match(wide.reason, /MAX_PIXELS/);

  const listed = await req('GET', '/v1/lines/up/images?limit=1&offset=1');
  assert.equal(listed.status, 200);
  assert.equal(listed.body.total, 2);
  assert.equal(listed.body.images.length, 1);
  assert.equal(listed.body.images[0].id, b.id);
  assertError(await req('GET', '/v1/lines/up/images?limit=1001'), 400, 'validation_failed');
  assertError(await req('GET', '/v1/lines/up/images?limit=abc'), 400, 'validation_failed');

  const bytes = await fetch(`${srv.url}/v1/lines/up/images/${a.id}`);
  assert.equal(bytes.status, 200);
  assert.equal(bytes.headers.get('content-type'), 'image/png');
  assert.deepEqual(Buffer.from(await bytes.arrayBuffer()), png);
  assertError(await req('GET', `/v1/lines/up/images/${'0'.repeat(64)}`), 404, 'not_found');
  assertError(await req('GET', '/v1/lines/up/images/not-a-hash'), 400, 'validation_failed');

  // No readable file at all: the whole request is a 400, nothing stored.
  const none = await req('POST', '/v1/lines/up/images', form([{ name: 'x.txt', bytes: Buffer.from('hello'), type: 'text/plain' }]));
  assertError(none, 400, 'bad_request');
  assert.equal(none.body.error.details.rejected, 1);
  assertError(await req('POST', '/v1/lines/up/images', new FormData()), 400, 'bad_request');
  const wrongField = new FormData();
  wrongField.append('photos', new Blob([new Uint8Array(png)]), 'a.png');
  assertError(await req('POST', '/v1/lines/up/images', wrongField), 400, 'validation_failed');
  assertError(
    await req('POST', '/v1/lines/up/images', JSON.stringify({ a: 1 }), { 'content-type': 'application/json' }),
    415,
    'unsupported_media_type',
  );
  assertError(await req('POST', '/v1/lines/nope/images', form([{ name: 'a.png', bytes: png }])), 404, 'not_found');

  // Limits: a file over MAX_FILE_BYTES and more than MAX_FILES files stop the request; nothing of it is stored.
  const big = Buffer.alloc(300 * 1024, 7);
  assertError(
    await req(
      'POST',
      '/v1/lines/up/images',
      form([
        { name: 'c.png', bytes: await partImage(3) },
        { name: 'big.png', bytes: big },
      ]),
    ),
    413,
    'payload_too_large',
  );
  const many = await Promise.all([10, 11, 12, 13, 14, 15, 16].map((s) => partImage(s)));
  assertError(
    await req('POST', '/v1/lines/up/images', form(many.map((m, i) => ({ name: `${i}.png`, bytes: m })))),
    413,
    'payload_too_large',
  );
  assert.equal((await req('GET', '/v1/lines/up/images')).body.total, 2, 'requests stopped by a limit store nothing');
  const tmp = await readdir(path.join(srv.config.dataDir, 'lines', 'up', 'tmp'));
  assert.deepEqual(tmp, [], 'staged uploads are cleaned up');

  assert.equal((await req('DELETE', `/v1/lines/up/images/${b.id}`)).status, 204);
  assertError(await req('DELETE', `/v1/lines/up/images/${b.id}`), 404, 'not_found');
  assert.equal((await req('GET', '/v1/lines/up')).body.images, 1);
});

test('builds and inspections refuse what they cannot do, with their documented codes', async () => {
  await req('POST', '/v1/lines', { id: 'early' });
  assertError(await req('POST', '/v1/lines/early/inspect', form([{ name: 'a.png', bytes: png }])), 409, 'no_active_bank');
  assertError(await req('POST', '/v1/lines/early/inspect.png', png, { 'content-type': 'image/png' }), 409, 'no_active_bank');
  assertError(await req('POST', '/v1/lines/early/inspect', new FormData()), 400, 'bad_request');
  assertError(
    await req('POST', '/v1/lines/early/inspect', JSON.stringify({}), { 'content-type': 'application/json' }),
    415,
    'unsupported_media_type',
  );
  assertError(await req('POST', '/v1/lines/early/inspect?heatmap=jpeg', png, { 'content-type': 'image/png' }), 400, 'validation_failed');
  assertError(await req('POST', '/v1/lines/early/inspect?opacity=2', png, { 'content-type': 'image/png' }), 400, 'validation_failed');
  assertError(await req('POST', '/v1/lines/early/inspect?threshold=-1', png, { 'content-type': 'image/png' }), 400, 'validation_failed');
  assertError(
    await req('POST', '/v1/lines/early/inspect', Buffer.alloc(300 * 1024), { 'content-type': 'image/png' }),
    413,
    'payload_too_large',
  );
  const four = await Promise.all([1, 2, 3, 4].map((s) => partImage(s)));
  assertError(
    await req('POST', '/v1/lines/early/inspect', form(four.map((m, i) => ({ name: `${i}.png`, bytes: m })))),
    413,
    'payload_too_large',
  );
  assertError(await req('GET', '/v1/lines/early/builds/b_00000000000000000000000000'), 404, 'not_found');
  assertError(await req('GET', '/v1/lines/early/builds/xyz'), 400, 'validation_failed');
  assertError(await req('POST', '/v1/lines/early/banks/1/activate'), 404, 'not_found');
  assertError(await req('POST', '/v1/lines/early/banks/0/activate'), 400, 'validation_failed');
  assertError(await req('POST', '/v1/lines/early/builds', { config: { unknown: 1 } }), 400, 'validation_failed');
  const list = await req('GET', '/v1/lines/early/builds');
  assert.deepEqual(list.body, { builds: [] });
  assert.deepEqual((await req('GET', '/v1/lines/early/banks')).body, { banks: [] });
  assert.equal((await req('GET', '/healthz')).status, 200, 'still healthy after the bad requests');
});

test('metrics: Prometheus text with route patterns after traffic', async () => {
  await req('GET', '/v1/lines/bottle');
  const res = await fetch(`${srv.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  const text = await res.text();
  assert.match(text, /http_request_duration_seconds_bucket\{[^}]*method="GET"[^}]*route="\/v1\/lines\/:line"[^}]*status_code="200"/);
  assert.doesNotMatch(text, /route="\/v1\/lines\/bottle"/, 'raw URLs never become labels');
  for (const name of [
    'softpatch_inspect_duration_seconds',
    'softpatch_inspections_total',
    'softpatch_build_duration_seconds',
    'softpatch_builds_total',
    'softpatch_bank_rows',
    'softpatch_build_queue_length',
    'process_cpu_user_seconds_total',
  ]) {
    assert.match(text, new RegExp(`# TYPE ${name} `), name);
  }
  assert.match(text, /softpatch_inspections_total\{line="early",result="error"\} \d+/, 'failed inspections of a known line are counted');
  assert.doesNotMatch(text, /line="nope"/, 'unknown lines never become labels');
});

test('auth: with API_KEYS every /v1 route needs a bearer key; health, metrics and docs stay open', async () => {
  const secured = await startServer({ API_KEYS: 'k1, k2' }, { waitForBackbone: false });
  try {
    const c = (method: string, url: string, headers?: Record<string, string>) => call(secured.url, method, url, undefined, headers);
    const denied = await c('GET', '/v1/lines');
    assertError(denied, 401, 'unauthorized');
    assert.equal(denied.headers.get('www-authenticate'), 'Bearer');
    assertError(await c('GET', '/v1/lines', { authorization: 'Bearer nope' }), 401, 'unauthorized');
    assertError(await c('GET', '/v1/lines', { authorization: 'Basic azE=' }), 401, 'unauthorized');
    assert.equal((await c('GET', '/v1/lines', { authorization: 'Bearer k2' })).status, 200);
    assert.equal((await c('GET', '/v1/lines', { authorization: 'bearer k1' })).status, 200);
    assertError(await c('GET', '/v2/anything'), 401, 'unauthorized');
    for (const open of ['/healthz', '/metrics', '/openapi.json']) assert.equal((await c('GET', open)).status, 200, open);
    assert.notEqual((await c('GET', '/readyz')).status, 401);
  } finally {
    await secured.close(true);
  }
});
