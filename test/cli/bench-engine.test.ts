/** `softpatch bench engine` on the features of generated photos through the real backbone, and its refusals. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CLI } from '../helpers/paths.js';

const run = promisify(execFile);

interface SearchFigures {
  queries: number;
  bankRows: number;
  exactGemmMs: number;
  fastMs: number;
  top1Agreement: number;
  imageScoreRelDiff: number;
  referenceAgreement: number;
}

test('bench engine --features real on generated photos: exact search on a good and a defective photo, same coreset picks', async () => {
  // An empty folder as --data: no bottle category there, so the bench generates its photos.
  const empty = await mkdtemp(path.join(os.tmpdir(), 'sp-bench-engine-'));
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'bench', 'engine', '--images', '6', '--data', empty, '--json'], {
      timeout: 180_000,
    });
    const r = JSON.parse(stdout) as {
      features: string;
      images: number;
      patches: number;
      dim: number;
      embedMs: number;
      coreset: { selected: number; sameSelection: boolean };
      search: SearchFigures;
      searchDefective: SearchFigures;
    };
    assert.match(stderr, /6 photos from generated; embedding/);
    assert.equal(r.features, 'generated');
    assert.equal(r.images, 6);
    // 256 × 256 photos resized to 224 by the line defaults: the backbone's 28 × 28 grid of 1024 dims.
    assert.equal(r.patches, 784);
    assert.equal(r.dim, 1024);
    assert.ok(r.embedMs > 0);
    assert.equal(r.coreset.selected, Math.floor(0.1 * 6 * 784));
    assert.equal(r.coreset.sameSelection, true);
    for (const s of [r.search, r.searchDefective]) {
      assert.equal(s.queries, 784);
      assert.equal(s.bankRows, r.coreset.selected);
      assert.equal(s.top1Agreement, 1, JSON.stringify(s));
      assert.equal(s.imageScoreRelDiff, 0, JSON.stringify(s));
      assert.equal(s.referenceAgreement, 1, JSON.stringify(s));
    }
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});

test('bench engine --features synthetic keeps the generator; an unknown --features is refused', async () => {
  const { stdout } = await run(
    process.execPath,
    [CLI, 'bench', 'engine', '--features', 'synthetic', '--images', '4', '--patches', '64', '--dim', '32', '--json'],
    { timeout: 120_000 },
  );
  const r = JSON.parse(stdout) as { features: string; embedMs: null; images: number; search: SearchFigures; searchDefective: null };
  assert.equal(r.features, 'synthetic');
  assert.equal(r.embedMs, null);
  assert.equal(r.images, 4);
  assert.equal(r.search.queries, 64);
  assert.equal(r.search.top1Agreement, 1);
  assert.equal(r.searchDefective, null);
  await assert.rejects(
    run(process.execPath, [CLI, 'bench', 'engine', '--features', 'isotropic']),
    /--features must be one of real, synthetic/,
  );
});
