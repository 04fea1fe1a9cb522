/**
 * Bounded growth (issue 16, item 2) over real HTTP with a tiny generated backbone: bank deletion
 * (never the active one, versions never reused), keepBanks retention, photos pruned once no kept
 * bank was built from them, and DATA_DIR usage in /metrics.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { buildBank, uploadPhotos } from '../helpers/line-ops.js';
import { tinyBackboneDir } from '../helpers/tiny-backbone.js';
import { call, form, partImage, startServer, type Json, type TestServer } from '../http/server.js';

const LINE = 'keep';
let backboneDir: string;
let srv: TestServer;

before(async () => {
  backboneDir = await tinyBackboneDir();
  srv = await startServer({ BACKBONE_DIR: backboneDir, MIN_TRAIN_IMAGES: '4' });
});

after(async () => {
  await srv?.close(true);
  await rm(backboneDir, { recursive: true, force: true });
});

const req = (method: string, url: string, body?: unknown): Promise<Json> => call(srv.url, method, url, body);

const upload = (seeds: number[]): Promise<string[]> => uploadPhotos(srv.url, LINE, seeds);
const build = (): Promise<number> => buildBank(srv.url, LINE);

const versions = async (): Promise<number[]> =>
  (await req('GET', `/v1/lines/${LINE}/banks`)).body.banks.map((b: { version: number }) => b.version);
const imageIds = async (): Promise<string[]> =>
  (await req('GET', `/v1/lines/${LINE}/images?limit=1000`)).body.images.map((i: { id: string }) => i.id).sort();

test('keepBanks and pruneImages: old banks and the photos only they used go; the active bank stays', async () => {
  const created = await req('POST', '/v1/lines', {
    id: LINE,
    config: { resize: 64, crop: 64, coresetRatio: 0.5, trainImages: 5, keepBanks: 1, pruneImages: true },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.config.keepBanks, 1);
  const first = await upload([1, 2, 3, 4, 5]);
  assert.equal(await build(), 1);
  const second = await upload([11, 12, 13, 14, 15]);
  assert.equal(await build(), 2);
  assert.deepEqual(await versions(), [2], 'keepBanks 1: version 1 is gone');
  assert.deepEqual(await imageIds(), [...second].sort(), 'the photos only version 1 was built from are gone');
  assert.ok(first.every((id) => !second.includes(id)));

  // The active bank cannot be deleted.
  const refused = await req('DELETE', `/v1/lines/${LINE}/banks/2`);
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error.code, 'bank_active');
  assert.equal((await req('DELETE', `/v1/lines/${LINE}/banks/7`)).status, 404);
});

test('deleting a bank version by hand; versions are never given out again', async () => {
  assert.equal((await req('PATCH', `/v1/lines/${LINE}`, { config: { keepBanks: null } })).status, 200);
  assert.equal(await build(), 3);
  assert.equal((await req('POST', `/v1/lines/${LINE}/banks/2/activate`)).status, 200);
  const removed = await req('DELETE', `/v1/lines/${LINE}/banks/3`);
  assert.equal(removed.status, 200, JSON.stringify(removed.body));
  assert.deepEqual(removed.body, { banks: [3], images: [] }, 'version 2 still needs the same photos');
  assert.deepEqual(await versions(), [2]);
  assert.equal(await build(), 4, 'the deleted version 3 is not reused');
  // The line still inspects with its active bank.
  const inspected = await req('POST', `/v1/lines/${LINE}/inspect`, form([{ name: 'q.png', bytes: await partImage(40, { size: 64 }) }]));
  assert.equal(inspected.status, 200, JSON.stringify(inspected.body));
  assert.equal(inspected.body.bank.version, 4);

  // Regions follow the image decision (issue 16, item 7): just above the threshold there is a
  // region, at the score itself (not anomalous) none.
  const score = inspected.body.results[0].score as number;
  const probe = form([{ name: 'q.png', bytes: await partImage(40, { size: 64 }) }]);
  const above = await req('POST', `/v1/lines/${LINE}/inspect?regions=true&threshold=${score * 0.999}`, probe);
  assert.equal(above.body.results[0].anomalous, true);
  assert.ok(above.body.results[0].regions.length >= 1, 'an anomalous image has a region');
  const at = await req(
    'POST',
    `/v1/lines/${LINE}/inspect?regions=true&threshold=${score}`,
    form([{ name: 'q.png', bytes: await partImage(40, { size: 64 }) }]),
  );
  assert.equal(at.body.results[0].anomalous, false);
  assert.deepEqual(at.body.results[0].regions, []);
});

test('/metrics reports the bytes of each line and the free space of DATA_DIR', async () => {
  const text = (await req('GET', '/metrics')).body as string;
  const bytes = Number(new RegExp(`^softpatch_data_bytes\\{line="${LINE}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
  // Five photos of a few kB plus two banks: more than the photos, far less than a megabyte.
  assert.ok(bytes > 5 * 1000 && bytes < 5_000_000, `softpatch_data_bytes ${bytes}`);
  const free = Number(/^softpatch_data_dir_free_bytes (\d+)$/m.exec(text)?.[1]);
  const size = Number(/^softpatch_data_dir_size_bytes (\d+)$/m.exec(text)?.[1]);
  assert.ok(free > 0 && size >= free, `free ${free} of ${size}`);
});
