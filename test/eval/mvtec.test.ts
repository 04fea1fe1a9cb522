import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { computeGeometry } from '../../src/backbone/preprocess.js';
import { listCategory, loadGroundTruth } from '../../src/eval/mvtec.js';

let root: string;

async function png(file: string, width: number, height: number, paint: (x: number, y: number) => number = () => 128): Promise<void> {
  const data = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = paint(x, y);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(
    file,
    await sharp(data, { raw: { width, height, channels: 1 } })
      .png()
      .toBuffer(),
  );
}

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'mvtec-test-'));
  const cat = path.join(root, 'widget');
  for (const f of ['010.png', '002.png', '000.png', '001.png']) await png(path.join(cat, 'train/good', f), 8, 8);
  await writeFile(path.join(cat, 'train/good/notes.txt'), 'not an image');
  await writeFile(path.join(cat, 'train/good/.hidden.png'), 'hidden');
  for (const f of ['001.png', '000.png']) await png(path.join(cat, 'test/good', f), 8, 8);
  for (const f of ['001.jpg', '000.jpg']) await png(path.join(cat, 'test/crack', f), 8, 8);
  for (const f of ['001_mask.png', '000_mask.png']) await png(path.join(cat, 'ground_truth/crack', f), 8, 8);
  await png(path.join(cat, 'test/burr/000.png'), 8, 8); // a defect type without ground truth
  // A second category whose only defect type has all its masks.
  const full = path.join(root, 'full');
  await png(path.join(full, 'train/good/000.png'), 8, 8);
  await png(path.join(full, 'test/good/000.png'), 8, 8);
  await png(path.join(full, 'test/scratch/000.png'), 8, 8);
  await png(path.join(full, 'ground_truth/scratch/000_mask.png'), 8, 8);
  // A broken one: a mask is missing.
  const broken = path.join(root, 'broken');
  await png(path.join(broken, 'train/good/000.png'), 8, 8);
  for (const f of ['000.png', '001.png']) await png(path.join(broken, 'test/dent', f), 8, 8);
  await png(path.join(broken, 'ground_truth/dent/000_mask.png'), 8, 8);
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

test('listCategory: official order, masks matched by stem, image-level only without ground truth', async () => {
  const cat = await listCategory(path.join(root, 'widget'));
  assert.equal(cat.category, 'widget');
  assert.deepEqual(
    cat.train.map((t) => t.name),
    ['train/good/000.png', 'train/good/001.png', 'train/good/002.png', 'train/good/010.png'],
  );
  assert.deepEqual(cat.types, ['burr', 'crack', 'good']);
  assert.deepEqual(
    cat.test.map((t) => t.name),
    ['test/burr/000.png', 'test/crack/000.jpg', 'test/crack/001.jpg', 'test/good/000.png', 'test/good/001.png'],
  );
  assert.deepEqual(
    cat.test.map((t) => t.anomalous),
    [true, true, true, false, false],
  );
  assert.equal(cat.test[0].maskPath, null);
  assert.equal(cat.test[2].maskPath, path.join(root, 'widget/ground_truth/crack/001_mask.png'));
  assert.equal(cat.test[3].maskPath, null);
  assert.equal(cat.test[1].path, path.join(root, 'widget/test/crack/000.jpg'));
  assert.equal(cat.pixelLevel, false);
  assert.equal((await listCategory(path.join(root, 'full'))).pixelLevel, true);
});

test('listCategory: errors for a missing mask and a missing category', async () => {
  await assert.rejects(listCategory(path.join(root, 'broken')), /no mask ground_truth\/dent\/001_mask/);
  await assert.rejects(listCategory(path.join(root, 'nothing-here')), /no images in train\/good/);
});

test('loadGroundTruth: official rule erodes antialiased borders, half keeps them (spec §9)', async () => {
  // 200 × 200 square at (400, 400) in a 1024 × 1024 mask → resize 256 (÷4) → crop 224 at (16, 16).
  const file = path.join(root, 'square_mask.png');
  await png(file, 1024, 1024, (x, y) => (x >= 400 && x < 600 && y >= 400 && y < 600 ? 255 : 0));
  const geometry = computeGeometry(1024, 1024, { resize: 256, crop: 224 });
  const official = await loadGroundTruth(file, geometry, 'official');
  const half = await loadGroundTruth(file, geometry, 'half');
  assert.equal(official.length, 224 * 224);
  const count = (m: Uint8Array): number => m.reduce((n, v) => n + v, 0);
  // The spec's Pillow check: 2304 positives (48 × 48) under the official rule, 2500 (50 × 50) at ≥ 0.5.
  assert.equal(count(official), 2304);
  assert.equal(count(half), 2500);
  // Resized square 100..149 → crop coordinates 84..133; the official rule drops the outer ring.
  assert.equal(half[84 * 224 + 84], 1);
  assert.equal(half[83 * 224 + 84], 0);
  assert.equal(official[84 * 224 + 84], 0);
  assert.equal(official[85 * 224 + 85], 1);
  assert.equal(official[132 * 224 + 132], 1);
  assert.equal(official[133 * 224 + 133], 0);
});

test('loadGroundTruth: non-square crop geometry matches the image preprocessing', async () => {
  // 300 × 257 → 298 × 256 (spec §2 example), crop 224 at left 37, top 16. Left half of the
  // original (x < 150) is defect → resized boundary ≈ 149 → crop boundary ≈ 112.
  const file = path.join(root, 'half_mask.png');
  await png(file, 300, 257, (x) => (x < 150 ? 255 : 0));
  const geometry = computeGeometry(300, 257, { resize: 256, crop: 224 });
  assert.deepEqual([geometry.resizedWidth, geometry.resizedHeight, geometry.cropLeft, geometry.cropTop], [298, 256, 37, 16]);
  const gt = await loadGroundTruth(file, geometry, 'half');
  for (const y of [0, 100, 223]) {
    let run = 0;
    while (run < 224 && gt[y * 224 + run] === 1) run++;
    assert.ok(run >= 111 && run <= 113, `row ${y}: ${run} positives from the left`);
    assert.ok(gt.subarray(y * 224 + run, (y + 1) * 224).every((v) => v === 0));
  }
  // crop null keeps the whole resized frame.
  const whole = await loadGroundTruth(file, computeGeometry(300, 257, { resize: 256, crop: null }), 'half');
  assert.equal(whole.length, 298 * 256);
});

test('loadGroundTruth: good images are all zero; a mask of the wrong size is refused', async () => {
  const geometry = computeGeometry(8, 8, { resize: null, crop: 6 });
  const none = await loadGroundTruth(null, geometry, 'official');
  assert.equal(none.length, 36);
  assert.ok(none.every((v) => v === 0));
  await assert.rejects(loadGroundTruth(path.join(root, 'half_mask.png'), geometry, 'official'), /mask is 300×257, its image 8×8/);
});
