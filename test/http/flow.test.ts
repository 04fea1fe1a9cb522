/**
 * The full flow of issue 5 against real servers on 127.0.0.1, with the real backbone: a line of
 * generated part photos (some with a painted defect) is built, inspected, restarted, crashed
 * mid-build, rebuilt under load, rolled back, cancelled and deleted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { TURBO_LUT } from '../../src/render/colormap.js';
import { spawnServer as spawnChild } from '../helpers/child-server.js';
import { call, form, partImage, startServer, tempDataDir, type Defect, type Json, type TestServer } from './server.js';

const LINE = 'parts';
/** Small frames keep the backbone cheap: 128 × 128 photos, crop 112 → a 14 × 14 patch grid. */
const LINE_CONFIG = { resize: 128, crop: 112, coresetRatio: 0.25, removalQuantile: 0.1, suspectShare: 0.38 };
const TRAIN_DEFECT: Defect = { x: 64, y: 24, size: 28 };
const TEST_DEFECT: Defect = { x: 30, y: 62, size: 16 };

let dataDir: string;
let srv: TestServer;
const good: Buffer[] = [];
const bad: Buffer[] = [];
let goodTest: Buffer;
let badTest: Buffer;

before(async () => {
  dataDir = await tempDataDir();
  for (let i = 0; i < 30; i++) good.push(await partImage(100 + i));
  for (let i = 0; i < 4; i++) bad.push(await partImage(200 + i, { defect: { ...TRAIN_DEFECT, x: TRAIN_DEFECT.x - 8 * i } }));
  goodTest = await partImage(300);
  badTest = await partImage(301, { defect: TEST_DEFECT });
});

after(async () => {
  await srv?.close(true);
});

const req = (method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<Json> =>
  call(srv.url, method, url, body, headers);

async function waitForBuild(
  id: string,
  until: (b: { status: string; stage: string }) => boolean = (b) => !['queued', 'running'].includes(b.status),
  timeoutMs = 120_000,
): Promise<Json['body']> {
  const t0 = Date.now();
  for (;;) {
    const b = await req('GET', `/v1/lines/${LINE}/builds/${id}`);
    assert.equal(b.status, 200);
    if (until(b.body)) return b.body;
    if (Date.now() - t0 > timeoutMs) assert.fail(`build ${id} still ${b.body.status}/${b.body.stage}`);
    await new Promise((r) => setTimeout(r, 40));
  }
}

async function inspect(bytes: Buffer, query = ''): Promise<Json> {
  return req('POST', `/v1/lines/${LINE}/inspect${query}`, form([{ name: 'probe.png', bytes }]));
}

/** Colour-map position of every heatmap pixel (nearest turbo entry), as a t ∈ [0, 255] image. */
async function heatLevels(png: Buffer): Promise<{ levels: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const levels = new Uint8Array(info.width * info.height);
  for (let i = 0; i < levels.length; i++) {
    const [r, g, b] = [data[i * info.channels], data[i * info.channels + 1], data[i * info.channels + 2]];
    let best = 0;
    let bestD = Infinity;
    for (let k = 0; k < 256; k++) {
      const d = (TURBO_LUT[3 * k] - r) ** 2 + (TURBO_LUT[3 * k + 1] - g) ** 2 + (TURBO_LUT[3 * k + 2] - b) ** 2;
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    }
    levels[i] = best;
  }
  return { levels, width: info.width, height: info.height };
}

function inside(x: number, y: number, d: Defect, margin: number): boolean {
  return x >= d.x - margin && x < d.x + d.size + margin && y >= d.y - margin && y < d.y + d.size + margin;
}

let goodScore = 0;
let badScore = 0;
let firstBuild = '';

test('build: 202 at once, progress by stage, success, bank activated', async () => {
  srv = await startServer({ DATA_DIR: dataDir, MAX_PIXELS: '100000' });
  assert.equal((await req('POST', '/v1/lines', { id: LINE, config: LINE_CONFIG })).status, 201);
  const files = [
    ...good.map((bytes, i) => ({ name: `good-${i}.png`, bytes })),
    ...bad.map((bytes, i) => ({ name: `defect-${i}.png`, bytes })),
  ];
  const up = await req('POST', `/v1/lines/${LINE}/images`, form(files));
  assert.equal(up.status, 200, JSON.stringify(up.body));
  assert.equal(up.body.stored, 34);

  const t0 = Date.now();
  const started = await req('POST', `/v1/lines/${LINE}/builds`);
  assert.equal(started.status, 202, JSON.stringify(started.body));
  assert.ok(Date.now() - t0 < 1000, 'answered before the build ran');
  assert.ok(['queued', 'running'].includes(started.body.status));
  assert.equal(started.body.images, 34);
  assert.equal(started.body.bankVersion, null);
  firstBuild = started.body.id;
  const dup = await req('POST', `/v1/lines/${LINE}/builds`);
  assert.equal(dup.status, 409);
  assert.equal(dup.body.error.code, 'build_in_progress');

  // The build runs in its own process: /metrics shows its resident memory while it runs (over
  // 100 MB once its backbone session is loaded).
  let buildRss = 0;
  for (let i = 0; i < 200 && buildRss < 100 * 2 ** 20; i++) {
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    buildRss = Math.max(buildRss, Number(/^softpatch_process_memory_bytes\{component="builds"\} (\d+)$/m.exec(metrics)?.[1] ?? 0));
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(buildRss > 100 * 2 ** 20, `build process RSS ${buildRss}`);

  const stages = new Set<string>();
  const done = await waitForBuild(firstBuild, (b) => {
    stages.add(b.stage);
    return !['queued', 'running'].includes(b.status);
  });
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  assert.equal(done.stage, 'done');
  assert.equal(done.bankVersion, 1);
  assert.ok(done.startedAt && done.finishedAt);
  for (const s of ['embedding', 'denoising', 'coreset', 'calibrating', 'writing'])
    assert.equal(typeof done.timingsMs[s], 'number', `timing of ${s}`);
  assert.ok(stages.size >= 2, `progress seen in stages ${[...stages]}`);

  const line = await req('GET', `/v1/lines/${LINE}`);
  assert.equal(line.body.activeBank.version, 1);
  assert.ok(line.body.activeBank.rows > 0);
  assert.equal(line.body.lastBuild.status, 'succeeded');
  const banks = await req('GET', `/v1/lines/${LINE}/banks`);
  assert.equal(banks.body.banks.length, 1);
  assert.equal(banks.body.banks[0].buildId, firstBuild);
  const files1 = await readdir(path.join(dataDir, 'lines', LINE, 'banks', '1'));
  for (const f of ['meta.json', 'noise-report.json', 'cls.features.bin', 'cls.weights.bin', 'cls.sourceImage.bin'])
    assert.ok(files1.includes(f), f);
});

test('noise report: the defective uploads rank first and are the suspects', async () => {
  const res = await req('GET', `/v1/lines/${LINE}/builds/${firstBuild}/noise-report`);
  assert.equal(res.status, 200);
  const ranked = res.body.images as { filename: string; removedShare: number; calibrationScore: number; suspect: boolean }[];
  assert.equal(ranked.length, 34);
  assert.deepEqual(
    ranked.slice(0, 4).map((e) => e.filename.startsWith('defect-')),
    [true, true, true, true],
    JSON.stringify(ranked.slice(0, 6)),
  );
  // The default evidence is the leave-one-out score (docs/SERVICE.md, noise report).
  assert.equal(res.body.evidence, 'calibrationScore');
  assert.ok(
    ranked.every((e, i) => i === 0 || ranked[i - 1].calibrationScore >= e.calibrationScore),
    'sorted by calibration score',
  );
  assert.equal(typeof res.body.separation.borderline, 'number');
  assert.ok(res.body.fence > 0);
  // Every defective upload is a suspect. The leave-one-out fence also catches clean outliers (1-5 %
  // of clean MVTec photos, up to 3 of these 30 tightly clustered synthetic ones; docs/BENCHMARKS.md).
  const suspects = ranked.filter((e) => e.suspect).map((e) => e.filename);
  for (const f of ['defect-0.png', 'defect-1.png', 'defect-2.png', 'defect-3.png']) assert.ok(suspects.includes(f), `${f} in ${suspects}`);
  assert.ok(suspects.length <= 4 + 3, `suspects ${suspects}`);
  assert.equal(res.body.suspects, suspects.length);
  assert.equal(res.body.bankVersion, 1);
});

test('inspection: the defective part scores higher, is flagged, and its heatmap is hottest on the defect', async () => {
  const g = await inspect(goodTest);
  const b = await inspect(badTest, '?heatmap=png&regions=true');
  assert.equal(g.status, 200, JSON.stringify(g.body));
  assert.equal(b.status, 200, JSON.stringify(b.body));
  const [gr] = g.body.results;
  const [br] = b.body.results;
  assert.deepEqual(g.body.bank, { version: 1, method: 'softpatch', active: true });
  assert.ok(br.score > gr.score, `defective ${br.score} vs good ${gr.score}`);
  assert.equal(br.anomalous, true);
  assert.equal(gr.anomalous, false, `good ${gr.score} vs threshold ${gr.threshold}`);
  assert.equal(br.normalizedScore, br.score / br.threshold);
  assert.equal(gr.heatmap, undefined, 'no heatmap unless asked');
  for (const k of ['decode', 'backbone', 'search', 'render']) assert.equal(typeof br.timingsMs[k], 'number');
  // A plain JSON inspection searches for the score alone; with a map asked for, every patch: the same score.
  for (const [photo, score] of [
    [badTest, br.score],
    [goodTest, (await inspect(goodTest, '?regions=true')).body.results[0].score],
  ] as const) {
    assert.equal((await inspect(photo)).body.results[0].score, score);
  }
  goodScore = gr.score;
  badScore = br.score;

  const heat = await heatLevels(Buffer.from(br.heatmap, 'base64'));
  assert.equal(heat.width, 128);
  assert.equal(heat.height, 128);
  // The hottest area (the top colour levels, which saturate above the scale) is centred on the defect.
  const top = Math.max(...heat.levels) - 3;
  let sx = 0,
    sy = 0,
    n = 0;
  heat.levels.forEach((v, i) => {
    if (v >= top) {
      sx += i % heat.width;
      sy += Math.floor(i / heat.width);
      n++;
    }
  });
  assert.ok(inside(sx / n, sy / n, TEST_DEFECT, 6), `hottest area centred at (${sx / n}, ${sy / n})`);
  assert.ok(br.regions.length >= 1);
  const r0 = br.regions[0];
  const cx = r0.x + r0.width / 2;
  const cy = r0.y + r0.height / 2;
  assert.ok(inside(cx, cy, TEST_DEFECT, 8), `main region ${JSON.stringify(r0)} centred on the defect`);

  // Several images in one request, batched: same scores as one by one.
  const both = await req(
    'POST',
    `/v1/lines/${LINE}/inspect`,
    form([
      { name: 'g.png', bytes: goodTest },
      { name: 'b.png', bytes: badTest },
    ]),
  );
  assert.deepEqual(
    both.body.results.map((r: { filename: string }) => r.filename),
    ['g.png', 'b.png'],
  );
  assert.ok(Math.abs(both.body.results[0].score - goodScore) <= 1e-4 * goodScore);
  assert.ok(Math.abs(both.body.results[1].score - badScore) <= 1e-4 * badScore);
});

test('inspect.png: the overlay PNG at the original size with the figures in headers; raw image bodies', async () => {
  const res = await fetch(`${srv.url}/v1/lines/${LINE}/inspect.png`, {
    method: 'POST',
    body: new Uint8Array(badTest),
    headers: { 'content-type': 'image/png' },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/png');
  assert.equal(res.headers.get('x-anomalous'), 'true');
  assert.equal(res.headers.get('x-bank-version'), '1');
  assert.ok(Math.abs(Number(res.headers.get('x-anomaly-score')) - badScore) <= 1e-4 * badScore);
  assert.equal(
    Number(res.headers.get('x-anomaly-normalized-score')),
    Number(res.headers.get('x-anomaly-score')) / Number(res.headers.get('x-anomaly-threshold')),
  );
  const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 128, 128]);

  const heat = await fetch(`${srv.url}/v1/lines/${LINE}/inspect.png?kind=heatmap`, {
    method: 'POST',
    body: form([{ name: 'g.png', bytes: goodTest }]),
  });
  assert.equal(heat.status, 200);
  assert.equal(heat.headers.get('x-anomalous'), 'false');

  const raw = await req('POST', `/v1/lines/${LINE}/inspect`, new Uint8Array(await sharp(goodTest).jpeg({ quality: 98 }).toBuffer()), {
    'content-type': 'image/jpeg',
  });
  assert.equal(raw.status, 200);
  assert.equal(raw.body.results[0].width, 128);
});

const GIF_1PX = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

test('inspection refuses bad images with their codes and stays healthy', async () => {
  const gif = await req('POST', `/v1/lines/${LINE}/inspect`, new Uint8Array(GIF_1PX), { 'content-type': 'image/gif' });
  assert.equal(gif.status, 415);
  assert.equal(gif.body.error.code, 'unsupported_media_type');
  // MAX_PIXELS is 100,000 on this server: a 400 × 400 frame is a decompression-bomb stand-in.
  const large = await sharp({ create: { width: 400, height: 400, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
  const bomb = await inspect(large);
  assert.equal(bomb.status, 422);
  assert.equal(bomb.body.error.code, 'unprocessable');
  assert.match(bomb.body.error.message, /MAX_PIXELS/);
  const cut = await req(
    'POST',
    `/v1/lines/${LINE}/inspect`,
    form([
      { name: 'ok.png', bytes: goodTest },
      { name: 'cut.jpg', bytes: (await sharp(goodTest).jpeg().toBuffer()).subarray(0, 600), type: 'image/jpeg' },
    ]),
  );
  assert.equal(cut.status, 422, JSON.stringify(cut.body));
  assert.equal(cut.body.error.details.filename, 'cut.jpg', 'the error names the file');
  assert.equal((await req('GET', '/readyz')).status, 200);
  assert.equal((await inspect(goodTest)).body.results[0].score, goodScore);
});

test('threshold: ?threshold= per request, a fixed line threshold at once, auto again', async () => {
  const over = await inspect(badTest, `?threshold=${badScore * 2}`);
  assert.equal(over.body.results[0].anomalous, false);
  assert.equal(over.body.results[0].threshold, badScore * 2);
  assert.equal(over.body.results[0].normalizedScore, 0.5);
  const fixed = goodScore / 2;
  assert.equal((await req('PATCH', `/v1/lines/${LINE}`, { config: { threshold: { policy: 'fixed', value: fixed } } })).status, 200);
  const g = await inspect(goodTest);
  assert.equal(g.body.results[0].threshold, fixed);
  assert.equal(g.body.results[0].anomalous, true);
  await req('PATCH', `/v1/lines/${LINE}`, { config: { threshold: { policy: 'auto' } } });
  assert.equal((await inspect(goodTest)).body.results[0].anomalous, false);
  const strict = await req('PATCH', `/v1/lines/${LINE}`, { config: { threshold: { sensitivity: 0 } } });
  const meta = (await req('GET', `/v1/lines/${LINE}/banks`)).body.banks[0];
  assert.ok(strict.body.threshold < meta.threshold, 'a lower k lowers the threshold without a rebuild');
  await req('PATCH', `/v1/lines/${LINE}`, { config: { threshold: { sensitivity: 3.5 } } });
  assert.equal((await req('GET', `/v1/lines/${LINE}`)).body.threshold, meta.threshold);
});

test('restart: a second server on the same DATA_DIR answers identical scores', async () => {
  await srv.close();
  // The second server walks each search's tree on two threads (lanes): the same scores.
  srv = await startServer({ DATA_DIR: dataDir, MAX_PIXELS: '100000', ORT_THREADS: '2', SEARCH_LANES: '2' });
  const g = await inspect(goodTest);
  const b = await inspect(badTest);
  assert.equal(g.body.results[0].score, goodScore);
  assert.equal(b.body.results[0].score, badScore);
  // The loaded bank shows in the memory gauges: its arrays' bytes, and the components of RSS.
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  const gauge = (re: RegExp): number => Number(re.exec(metrics)?.[1] ?? NaN);
  const bankBytes = gauge(/^softpatch_bank_memory_bytes (\d+)$/m);
  assert.ok(bankBytes > 0, 'bank bytes');
  assert.equal(gauge(/^softpatch_process_memory_bytes\{component="banks"\} (\d+)$/m), bankBytes);
  assert.ok(gauge(/^softpatch_process_memory_bytes\{component="rss"\} (\d+)$/m) > bankBytes, 'rss');
  assert.equal(gauge(/^softpatch_process_memory_bytes\{component="builds"\} (\d+)$/m), 0, 'no build runs');
});

/** `softpatch serve` as a child process on DATA_DIR, once it answers /readyz. */
async function spawnServer(): Promise<{ base: string; child: ChildProcess }> {
  return spawnChild({ DATA_DIR: dataDir });
}

test('crash: a build killed mid-way leaves the old bank served and no half version', async () => {
  await srv.close();
  const { base, child } = await spawnServer();
  try {
    // A heavier build (256 px crops) so that there is time to kill it.
    const started = await call(base, 'POST', `/v1/lines/${LINE}/builds`, { config: { resize: 256, crop: 224 } });
    assert.equal(started.status, 202);
    for (;;) {
      const b = await call(base, 'GET', `/v1/lines/${LINE}/builds/${started.body.id}`);
      if (b.body.status === 'running' && (b.body.stage !== 'embedding' || b.body.progress.done >= 8)) break;
      assert.notEqual(b.body.status, 'succeeded', 'killed before it finished');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    srv = await startServer({ DATA_DIR: dataDir, MAX_PIXELS: '100000' });
    const crashed = await req('GET', `/v1/lines/${LINE}/builds/${started.body.id}`);
    assert.equal(crashed.body.status, 'failed');
    assert.equal(crashed.body.error.code, 'interrupted');
    assert.deepEqual(
      (await req('GET', `/v1/lines/${LINE}/banks`)).body.banks.map((x: { version: number }) => x.version),
      [1],
    );
    assert.deepEqual(await readdir(path.join(dataDir, 'lines', LINE, 'banks')), ['1']);
    assert.deepEqual(await readdir(path.join(dataDir, 'lines', LINE, 'tmp')), []);
    assert.equal((await inspect(badTest)).body.results[0].score, badScore, 'the old bank still serves');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('graceful shutdown: SIGTERM lets a running inspection finish and stops the build cleanly', async () => {
  await srv.close();
  const { base, child } = await spawnServer();
  try {
    const started = await call(base, 'POST', `/v1/lines/${LINE}/builds`, { config: { resize: 256, crop: 224 } });
    assert.equal(started.status, 202);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const batch = form(good.slice(0, 8).map((bytes, i) => ({ name: `${i}.png`, bytes })));
    const inflight = call(base, 'POST', `/v1/lines/${LINE}/inspect`, batch);
    await new Promise((r) => setTimeout(r, 60));
    child.kill('SIGTERM');
    const answered = await inflight;
    assert.equal(answered.status, 200, JSON.stringify(answered.body));
    assert.equal(answered.body.results.length, 8);
    assert.equal(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  srv = await startServer({ DATA_DIR: dataDir, MAX_PIXELS: '100000' });
  const builds = (await req('GET', `/v1/lines/${LINE}/builds`)).body.builds;
  assert.equal(builds[0].status, 'failed');
  assert.equal(builds[0].error.code, 'interrupted');
  assert.deepEqual(
    (await req('GET', `/v1/lines/${LINE}/banks`)).body.banks.map((x: { version: number }) => x.version),
    [1],
  );
});

test('concurrent inspections during a build; the new bank activates atomically; rollback', async () => {
  const started = await req('POST', `/v1/lines/${LINE}/builds`, { config: { coresetRatio: 0.1 } });
  assert.equal(started.status, 202);
  await waitForBuild(started.body.id, (b) => b.status === 'running');
  const during = await Promise.all([
    ...Array.from({ length: 4 }, () => inspect(goodTest)),
    req('GET', '/healthz'),
    req('GET', `/v1/lines/${LINE}/builds/${started.body.id}`),
  ]);
  for (const r of during) assert.equal(r.status, 200);
  for (const r of during.slice(0, 4)) {
    // Served by bank 1 while bank 2 is being built.
    if (r.body.bank.version === 1) assert.equal(r.body.results[0].score, goodScore);
  }
  const done = await waitForBuild(started.body.id);
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  assert.equal(done.bankVersion, 2);
  assert.equal(done.config.coresetRatio, 0.1, 'overrides apply to this build');
  assert.equal((await req('GET', `/v1/lines/${LINE}`)).body.config.coresetRatio, LINE_CONFIG.coresetRatio, 'and not to the line');
  const v2 = await inspect(goodTest);
  assert.equal(v2.body.bank.version, 2);

  const rolled = await req('POST', `/v1/lines/${LINE}/banks/1/activate`);
  assert.equal(rolled.status, 200);
  assert.equal(rolled.body.activeBank.version, 1);
  const back = await inspect(goodTest);
  assert.equal(back.body.bank.version, 1);
  assert.equal(back.body.results[0].score, goodScore);
  const listed = (await req('GET', `/v1/lines/${LINE}/builds`)).body.builds;
  assert.deepEqual(
    listed.map((b: { status: string }) => b.status),
    ['succeeded', 'failed', 'failed', 'succeeded'],
    'newest first',
  );
});

test('queue, cancel, capacity, too few images, busy, delete during a build', async () => {
  const started = await req('POST', `/v1/lines/${LINE}/builds`);
  await req('POST', '/v1/lines', { id: 'other', config: LINE_CONFIG });
  await req('POST', '/v1/lines/other/images', form(good.slice(0, 10).map((bytes, i) => ({ name: `${i}.png`, bytes }))));
  const queued = await req('POST', '/v1/lines/other/builds');
  assert.equal(queued.status, 202);
  assert.equal(queued.body.status, 'queued', 'BUILD_CONCURRENCY = 1: the second line waits');
  assert.match(await (await fetch(`${srv.url}/metrics`)).text(), /softpatch_build_queue_length 1/);
  const dropped = await req('POST', `/v1/lines/other/builds/${queued.body.id}/cancel`);
  assert.equal(dropped.status, 202);
  assert.equal(dropped.body.status, 'cancelled', 'a queued build is cancelled at once');
  const cancelled = await req('POST', `/v1/lines/${LINE}/builds/${started.body.id}/cancel`);
  assert.equal(cancelled.status, 202);
  const end = await waitForBuild(started.body.id);
  assert.equal(end.status, 'cancelled');
  assert.equal((await req('POST', `/v1/lines/${LINE}/builds/${started.body.id}/cancel`)).body.error.code, 'conflict');
  assert.equal((await req('GET', `/v1/lines/${LINE}/builds/${started.body.id}/noise-report`)).status, 409);
  assert.deepEqual(
    (await req('GET', `/v1/lines/${LINE}/banks`)).body.banks.map((b: { version: number }) => b.version),
    [2, 1],
  );

  const huge = await req('POST', `/v1/lines/${LINE}/builds`, { config: { resize: 2048, crop: 2048 } });
  assert.equal(huge.status, 422);
  assert.equal(huge.body.error.code, 'over_capacity');
  assert.ok(huge.body.error.details.estimatedBytes > huge.body.error.details.maxBankBytes);

  await req('POST', '/v1/lines', { id: 'tiny' });
  await req('POST', '/v1/lines/tiny/images', form(good.slice(0, 3).map((bytes, i) => ({ name: `${i}.png`, bytes }))));
  const few = await req('POST', '/v1/lines/tiny/builds');
  assert.equal(few.status, 422);
  assert.equal(few.body.error.code, 'too_few_images');

  // A queue of one task beside one worker: a burst of 8-image requests overflows it.
  await srv.close();
  srv = await startServer({ DATA_DIR: dataDir, MAX_PIXELS: '100000', INSPECT_QUEUE: '1' });
  const batch = form(Array.from({ length: 8 }, (_, i) => ({ name: `${i}.png`, bytes: good[i] })));
  const burst = await Promise.all(Array.from({ length: 6 }, () => req('POST', `/v1/lines/${LINE}/inspect`, batch)));
  const busy = burst.filter((r) => r.status === 429);
  assert.ok(busy.length >= 1, `statuses ${burst.map((r) => r.status)}`);
  assert.equal(busy[0].body.error.code, 'busy');
  assert.ok(Number(busy[0].headers.get('retry-after')) >= 1);
  assert.ok(burst.some((r) => r.status === 200));

  const again = await req('POST', `/v1/lines/${LINE}/builds`);
  await waitForBuild(again.body.id, (b) => b.status === 'running');
  assert.equal((await req('DELETE', `/v1/lines/${LINE}`)).status, 204);
  assert.equal((await req('GET', `/v1/lines/${LINE}`)).status, 404);
  assert.equal((await req('GET', '/readyz')).status, 200, 'healthy after all of it');
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  assert.match(metrics, /softpatch_inspections_total\{line="parts",result="normal"\} \d+/);
  assert.match(metrics, /softpatch_build_queue_length 0/);
});
