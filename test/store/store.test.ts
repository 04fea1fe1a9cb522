import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isAppError } from '../../src/common/errors.js';
import {
  Store,
  newBuildId,
  type BankPayload,
  type BuildRecord,
  type ImageRecord,
  type LineConfig,
  type LineRecord,
} from '../../src/store/index.js';
import { Layout } from '../../src/store/paths.js';
import { BankCache } from '../../src/store/bank-cache.js';

const CONFIG: LineConfig = {
  method: 'softpatch',
  discriminator: 'lof',
  lofK: 6,
  discriminatorWindow: 0,
  trainRotations: 'none',
  align: 'none',
  removalQuantile: 0.15,
  coresetRatio: 0.1,
  resize: 256,
  crop: 224,
  threshold: { policy: 'auto', sensitivity: 3.5, rule: 'fence', falseAlarmRate: 0.01 },
  suspectShare: 0.3,
  suspectEvidence: 'removedShare',
  suspectFence: 'mad',
  excludeSuspects: false,
  suspectRebuild: 'coreset',
  trainImages: null,
  keepBanks: null,
  pruneImages: false,
};

async function tempStore(cache = 2): Promise<{ store: Store; dir: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sp-store-'));
  const store = new Store(dir, cache);
  await store.open();
  return { store, dir };
}

function lineRecord(id: string): LineRecord {
  const now = new Date().toISOString();
  return { id, name: id, config: CONFIG, createdAt: now, updatedAt: now, activeBank: null };
}

function buildRecord(line: string, status: BuildRecord['status']): BuildRecord {
  return {
    id: newBuildId(),
    line,
    status,
    stage: status === 'succeeded' ? 'done' : 'embedding',
    progress: null,
    createdAt: new Date().toISOString(),
    startedAt: null,
    finishedAt: null,
    config: CONFIG,
    images: 3,
    timingsMs: {},
    bankVersion: null,
    error: null,
  };
}

function payload(line: string, buildId: string, rows: number, seg: boolean): BankPayload {
  const dim = 4;
  const mk = (offset: number) => ({
    rows,
    dim,
    features: Float32Array.from({ length: rows * dim }, (_, i) => i * 0.5 + offset),
    weights: Float32Array.from({ length: rows }, (_, i) => 1 + i / 10),
    sourceImage: Int32Array.from({ length: rows }, (_, i) => i % 3),
  });
  return {
    meta: {
      format: 1,
      line,
      buildId,
      createdAt: new Date().toISOString(),
      method: seg ? 'softpatch+' : 'softpatch',
      config: CONFIG,
      engineConfig: {},
      backbone: { id: 'x', sha256: 'y' },
      grid: { h: 2, w: 2 },
      dim,
      rows: { cls: rows, seg: seg ? rows : null },
      trainingImages: ['a', 'b', 'c'],
      calibration: { imageScores: [1, 2, 3], excluded: [], median: 2, spread: 1, sensitivity: 3.5, threshold: 5.5, pixelMedian: 0.5 },
      threshold: 5.5,
      colorScale: { lo: 0.5, hi: 10.5, colormap: 'turbo' },
    },
    bankSet: { method: seg ? 'softpatch+' : 'softpatch', grid: { h: 2, w: 2 }, cls: mk(0), seg: seg ? mk(100) : null },
    noiseReport: {
      line,
      buildId,
      method: 'softpatch',
      removalQuantile: 0.15,
      suspectShare: 0.3,
      evidence: 'removedShare',
      rule: 'r',
      suspects: 0,
      fence: 0.3,
      separation: { gap: null, borderline: 0 },
      images: [],
    },
  };
}

test('line ids are validated before any path is built', () => {
  const layout = new Layout('/nonexistent');
  for (const bad of ['../etc', 'Bottle', '', '-x', 'a/b', 'a'.repeat(65), 'a.b', '%2e%2e']) {
    assert.throws(
      () => layout.line(bad),
      (err) => isAppError(err) && err.status === 400 && err.code === 'validation_failed',
      bad,
    );
  }
  assert.equal(layout.line('bottle_2-x').dir, path.join('/nonexistent', 'lines', 'bottle_2-x'));
  assert.throws(
    () => layout.line('ok').imageMeta('../../x'),
    (err) => isAppError(err) && err.status === 400,
  );
  assert.throws(
    () => layout.line('ok').bank(0),
    (err) => isAppError(err) && err.status === 400,
  );
});

test('build ids are unique and sort by creation, also within one millisecond', () => {
  const ids = Array.from({ length: 200 }, () => newBuildId(1_700_000_000_000));
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
  assert.ok(newBuildId() > ids[ids.length - 1]);
  assert.match(ids[0], /^b_[0-9A-HJKMNP-TV-Z]{26}$/);
});

test('lines: create, conflict, update, list, delete', async () => {
  const { store, dir } = await tempStore();
  try {
    await store.lines.create(lineRecord('bottle'));
    await assert.rejects(
      store.lines.create(lineRecord('bottle')),
      (err) => isAppError(err) && err.code === 'conflict' && err.status === 409,
    );
    await store.lines.create(lineRecord('cable'));
    assert.deepEqual(
      (await store.lines.list()).map((l) => l.id),
      ['bottle', 'cable'],
    );
    await Promise.all([1, 2, 3].map((v) => store.lines.update('bottle', (r) => ({ ...r, name: `${r.name}+${v}` }))));
    assert.equal((await store.lines.get('bottle')).name, 'bottle+1+2+3', 'updates are serialised, none lost');
    await store.deleteLine('bottle');
    await assert.rejects(store.lines.get('bottle'), (err) => isAppError(err) && err.status === 404);
    await assert.rejects(store.deleteLine('bottle'), (err) => isAppError(err) && err.status === 404);
    assert.deepEqual(await readdir(path.join(dir, 'lines')), ['cable']);
    assert.deepEqual(await readdir(path.join(dir, 'lines', 'cable', 'tmp')), [], 'no temporary files left behind');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('images: content-addressed, duplicates stored once, strays removed at startup', async () => {
  const { store, dir } = await tempStore();
  try {
    await store.lines.create(lineRecord('l1'));
    const bytes = Buffer.from('fake png bytes');
    const id = createHash('sha256').update(bytes).digest('hex');
    const rec: ImageRecord = {
      id,
      filename: 'a.png',
      contentType: 'image/png',
      format: 'png',
      ext: 'png',
      width: 1,
      height: 1,
      bytes: bytes.length,
      uploadedAt: new Date().toISOString(),
    };
    for (const expected of ['stored', 'duplicate']) {
      const staged = await store.images.openStaging('l1');
      await new Promise<void>((resolve, reject) => staged.stream.end(bytes, () => resolve()).on('error', reject));
      assert.deepEqual(await store.images.readStaged(staged.path), bytes);
      assert.equal(await store.images.commit('l1', staged.path, rec), expected);
    }
    assert.equal(await store.images.count('l1'), 1);
    assert.deepEqual(await store.images.readBytes('l1', id), bytes);
    const imagesDir = path.join(dir, 'lines', 'l1', 'images');
    assert.deepEqual((await readdir(imagesDir)).sort(), [`${id}.json`, `${id}.png`]);

    // A crash between the two renames leaves bytes without metadata; a stray metadata file too.
    const stray = 'a'.repeat(64);
    await writeFile(path.join(imagesDir, `${stray}.png`), 'x');
    await writeFile(path.join(imagesDir, `${'b'.repeat(64)}.json`), JSON.stringify({ ...rec, id: 'b'.repeat(64) }));
    await writeFile(path.join(dir, 'lines', 'l1', 'tmp', 'upload.123'), 'partial');
    const again = new Store(dir, 2);
    const report = await again.open();
    assert.equal(report.strayImageFiles, 2);
    assert.deepEqual((await readdir(imagesDir)).sort(), [`${id}.json`, `${id}.png`]);
    assert.deepEqual(await readdir(path.join(dir, 'lines', 'l1', 'tmp')), []);
    assert.equal(await again.images.count('l1'), 1);

    await again.images.delete('l1', id);
    assert.equal(await again.images.count('l1'), 0);
    assert.deepEqual(await readdir(imagesDir), []);
    await assert.rejects(again.images.get('l1', id), (err) => isAppError(err) && err.status === 404);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('banks: staged, committed under the next version, loaded with checksums verified', async () => {
  const { store, dir } = await tempStore();
  try {
    await store.lines.create(lineRecord('l1'));
    const b1 = buildRecord('l1', 'succeeded');
    const p = payload('l1', b1.id, 5, true);
    const staged = await store.banks.stage('l1', p);
    assert.equal(await store.banks.commit('l1', staged), 1);
    assert.equal(await store.banks.commit('l1', await store.banks.stage('l1', payload('l1', b1.id, 3, false))), 2);
    assert.deepEqual(await store.banks.versions('l1'), [1, 2]);

    const loaded = await store.banks.load('l1', 1);
    assert.deepEqual(Array.from(loaded.bankSet.cls.features), Array.from(p.bankSet.cls.features));
    assert.deepEqual(Array.from(loaded.bankSet.seg!.weights), Array.from(p.bankSet.seg!.weights));
    assert.deepEqual(Array.from(loaded.bankSet.cls.sourceImage), [0, 1, 2, 0, 1]);
    assert.ok(loaded.bankSet.cls.features.buffer instanceof SharedArrayBuffer);
    assert.equal(loaded.bankSet.cls.rows, 5);
    assert.equal(loaded.bankSet.cls.dim, 4);
    const onDisk = await readFile(path.join(dir, 'lines', 'l1', 'banks', '1', 'cls.features.bin'));
    assert.equal(onDisk.readFloatLE(4 * 3), 1.5, 'little-endian float32');

    // Flip one byte: the load must fail as a corrupt bank, not serve wrong scores.
    const file = path.join(dir, 'lines', 'l1', 'banks', '2', 'cls.weights.bin');
    const buf = await readFile(file);
    buf[0] ^= 1;
    await writeFile(file, buf);
    await assert.rejects(store.banks.load('l1', 2), (err) => isAppError(err) && err.status === 500 && /sha256/.test(err.message));
    await assert.rejects(store.banks.load('l1', 3), (err) => isAppError(err) && err.status === 404);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('recovery: interrupted builds fail, banks of unfinished builds vanish, the active bank stays', async () => {
  const { store, dir } = await tempStore();
  try {
    await store.lines.create(lineRecord('l1'));
    const done = buildRecord('l1', 'succeeded');
    await store.builds.save(done);
    assert.equal(await store.banks.commit('l1', await store.banks.stage('l1', payload('l1', done.id, 4, false))), 1);
    await store.lines.update('l1', (r) => ({ ...r, activeBank: 1 }));
    const running = buildRecord('l1', 'running');
    const queued = buildRecord('l1', 'queued');
    await store.builds.save(running);
    await store.builds.save(queued);
    // The running build got its bank renamed into place, then the process died.
    assert.equal(await store.banks.commit('l1', await store.banks.stage('l1', payload('l1', running.id, 4, false))), 2);
    await store.banks.stage('l1', payload('l1', running.id, 4, false)); // a half-written staging folder

    const again = new Store(dir, 2);
    const report = await again.open();
    assert.deepEqual(report, { lines: 1, strayImageFiles: 0, interruptedBuilds: 2, removedBanks: 1 });
    for (const id of [running.id, queued.id]) {
      const rec = await again.builds.get('l1', id);
      assert.equal(rec.status, 'failed');
      assert.equal(rec.error?.code, 'interrupted');
    }
    assert.equal((await again.builds.get('l1', done.id)).status, 'succeeded');
    assert.deepEqual(await again.banks.versions('l1'), [1]);
    assert.equal((await again.lines.get('l1')).activeBank, 1);
    assert.deepEqual(await readdir(path.join(dir, 'lines', 'l1', 'tmp')), []);
    assert.deepEqual(
      (await again.builds.list('l1')).map((b) => b.id),
      [queued.id, running.id, done.id],
      'newest first',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bank cache: LRU bounded by bank bytes, one load per bank while cached', async () => {
  let loads = 0;
  // Banks of 10 rows × 2 dims: 80 + 40 + 40 = 160 bytes each (a/3 is three times larger).
  const bankOf = (rows: number) => ({
    rows,
    dim: 2,
    features: new Float32Array(rows * 2),
    weights: new Float32Array(rows),
    sourceImage: new Int32Array(rows),
  });
  const fake = {
    load: async (line: string, version: number) => {
      loads++;
      return { line, version, bankSet: { cls: bankOf(version === 3 ? 30 : 10), seg: null } } as never;
    },
  };
  const cache = new BankCache(fake as never, 400);
  await cache.get('a', 1);
  await cache.get('a', 2);
  await cache.get('a', 1); // a/1 is now most recent
  assert.equal(loads, 2);
  assert.equal(cache.bytes, 320);
  await cache.get('b', 1); // 480 bytes: evicts a/2
  assert.equal(cache.size, 2);
  assert.equal(cache.bytes, 320);
  assert.equal(cache.rows, 20);
  assert.ok(cache.has('a', 1) && cache.has('b', 1) && !cache.has('a', 2));
  await cache.get('a', 2);
  assert.equal(loads, 4);
  cache.evictLine('a');
  assert.equal(cache.size, 1);
  // A bank larger than the bound alone still stays: the newest is always kept.
  await cache.get('a', 3);
  assert.equal(cache.size, 1);
  assert.ok(cache.has('a', 3));
  assert.equal(cache.bytes, 480);
});
