/**
 * The memory budget (issue 16, item 6): a build or a bank load that would go past
 * MEMORY_BUDGET_BYTES is refused with a clear error (503 memory_budget) instead of the process
 * growing until the kernel kills it; `trainRotations: "auto"` learns turns only where they fit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { BackboneManifest } from '../../src/backbone/types.js';
import { ROD_PHOTO_SIZE, rodPhoto } from '../../src/eval/synthetic-parts.js';
import { estimateBuild, MemoryBudget, turnedEstimate } from '../../src/service/capacity.js';
import { DEFAULT_LINE_CONFIG, engineConfigFor, mergeLineConfig } from '../../src/service/line-config.js';
import type { ImageRecord } from '../../src/store/types.js';
import { buildBank, photoForm, uploadPhotos } from '../helpers/line-ops.js';
import { tinyBackboneDir } from '../helpers/tiny-backbone.js';
import { call, form, startServer, tempDataDir } from '../http/server.js';

const MB = 1024 * 1024;

test('MemoryBudget: resident plus needed must fit', () => {
  const budget = new MemoryBudget(100 * MB, 2, () => 60 * MB);
  budget.assertFits(40 * MB, 'x');
  assert.throws(
    () => budget.assertFits(41 * MB, 'This build'),
    (err: Error & { code?: string; status?: number }) =>
      err.code === 'memory_budget' &&
      err.status === 503 &&
      /This build needs about 41 MB with 60 MB in use, over the memory budget of 100 MB/.test(err.message),
  );
});

test('over the budget: builds, inspections and activations that would load a bank are refused', async () => {
  const backboneDir = await tinyBackboneDir();
  const dataDir = await tempDataDir();
  const env = { BACKBONE_DIR: backboneDir, MIN_TRAIN_IMAGES: '4', DATA_DIR: dataDir };
  let srv = await startServer(env);
  try {
    assert.equal(
      (await call(srv.url, 'POST', '/v1/lines', { id: 'mem', config: { resize: 64, crop: 64, coresetRatio: 0.5 } })).status,
      201,
    );
    await uploadPhotos(srv.url, 'mem', [1, 2, 3, 4, 5]);
    assert.equal(await buildBank(srv.url, 'mem'), 1);
    assert.equal(await buildBank(srv.url, 'mem'), 2);
    await srv.close();
    // A budget below what the process already uses: nothing more may be loaded or built.
    srv = await startServer({ ...env, MEMORY_BUDGET_BYTES: String(MB) });
    const build = await call(srv.url, 'POST', '/v1/lines/mem/builds');
    assert.equal(build.status, 503, JSON.stringify(build.body));
    assert.equal(build.body.error.code, 'memory_budget');
    assert.match(build.body.error.message, /This build needs about \d+ MB .* over the memory budget of 1 MB \(MEMORY_BUDGET_BYTES\)/);
    const inspected = await call(srv.url, 'POST', '/v1/lines/mem/inspect', await photoForm([40]));
    assert.equal(inspected.status, 503);
    assert.match(inspected.body.error.message, /Loading bank mem\/2 needs about/);
    const activated = await call(srv.url, 'POST', '/v1/lines/mem/banks/1/activate');
    assert.equal(activated.status, 503);
    assert.equal(activated.body.error.code, 'memory_budget');
    // Nothing else is affected: reads answer, the service stays ready.
    assert.equal((await call(srv.url, 'GET', '/v1/lines/mem')).body.activeBank.version, 2);
    assert.equal((await call(srv.url, 'GET', '/readyz')).status, 200);
  } finally {
    await srv.close(true);
    await rm(backboneDir, { recursive: true, force: true });
  }
});

test('trainRotations "auto": a line at every angle whose turned views would not fit MAX_BANK_BYTES learns none, and says why', async () => {
  const backboneDir = await tinyBackboneDir();
  const dataDir = await tempDataDir();
  const env = { BACKBONE_DIR: backboneDir, MIN_TRAIN_IMAGES: '4', DATA_DIR: dataDir };
  const config = { resize: 64, crop: 64 };
  const rods = await Promise.all(Array.from({ length: 8 }, (_, i) => rodPhoto({ seed: 40 + i, angle: i * 43, cx: 64, cy: 64 })));
  const manifest = JSON.parse(await readFile(path.join(backboneDir, 'manifest.json'), 'utf8')) as BackboneManifest;
  const records = rods.map(() => ({ width: ROD_PHOTO_SIZE, height: ROD_PHOTO_SIZE }) as ImageRecord);
  const lineConfig = mergeLineConfig(DEFAULT_LINE_CONFIG, config);
  const oneView = estimateBuild(records, lineConfig, engineConfigFor(lineConfig), manifest).bytes;
  const turned = turnedEstimate(records, lineConfig, engineConfigFor(lineConfig), manifest)!.bytes;
  let srv = await startServer(env);
  try {
    for (const [id, limit, learned, reason] of [
      ['roomy', null, '90', 'any-angle'],
      ['tight', Math.floor((oneView + turned) / 2), 'none', 'over-capacity'],
    ] as const) {
      if (limit !== null) {
        await srv.close();
        srv = await startServer({ ...env, MAX_BANK_BYTES: String(limit) });
      }
      assert.equal((await call(srv.url, 'POST', '/v1/lines', { id, config })).status, 201);
      const up = await call(srv.url, 'POST', `/v1/lines/${id}/images`, form(rods.map((bytes, i) => ({ name: `rod-${i}.png`, bytes }))));
      assert.equal(up.body.stored, rods.length);
      assert.equal(await buildBank(srv.url, id), 1);
      const { turns } = (await call(srv.url, 'GET', `/v1/lines/${id}`)).body.activeBank;
      assert.deepEqual([turns.learned, turns.reason], [learned, reason], JSON.stringify(turns));
    }
  } finally {
    await srv.close(true);
    await rm(backboneDir, { recursive: true, force: true });
  }
});
