/**
 * The review page driven as a person would, in a real headless Chromium (Debian's `chromium`,
 * through playwright-core): key prompt, create a line, change its settings, upload training and
 * validation photos, build, read the noise report, remove a photo, inspect two photos and move
 * the threshold slider. Screenshots go to screenshots/ (git-ignored).
 *
 * Without /usr/bin/chromium the test is skipped on a workstation; in CI (CI=true) it fails.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ALIGNMENTS } from '../../src/backbone/align.js';
import { TRAIN_ROTATIONS } from '../../src/backbone/rotate.js';
import { PROJECT_ROOT } from '../../src/common/config.js';
import { call, partImage, startServer, type TestServer } from '../http/server.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
const inCi = process.env.CI === 'true';
const skip = !present && !inCi ? `${CHROMIUM} is not installed (apt-get install chromium); CI=true makes this a failure` : false;
const SHOTS = path.join(PROJECT_ROOT, 'screenshots');
const KEY = 'review-key';
const LINE = 'parts';

let srv: TestServer;
let ctx: BrowserContext;
let page: Page;
let profile: string;
let photos: string;
const files: Record<string, string[]> = { train: [], good: [], defective: [], probe: [] };

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** The top of the page as a reader of the README sees it (the images in docs/img come from these). */
async function readmeShot(name: string): Promise<void> {
  await page.evaluate(() => {
    document.querySelectorAll('.toast').forEach((t) => t.remove());
    window.scrollTo(0, 0);
  });
  await page.screenshot({ path: path.join(SHOTS, `readme-${name}.png`) });
}

async function writePhotos(group: string, list: Buffer[], prefix: string): Promise<void> {
  for (const [i, bytes] of list.entries()) {
    const file = path.join(photos, `${prefix}-${i}.png`);
    await writeFile(file, bytes);
    files[group].push(file);
  }
}

before(async () => {
  if (skip) return;
  if (!present) assert.fail(`CI=true but ${CHROMIUM} is missing: .ci/run installs it with apt-get`);
  await mkdir(SHOTS, { recursive: true });
  photos = await mkdtemp(path.join(os.tmpdir(), 'sp-ui-photos-'));
  profile = await mkdtemp(path.join(os.tmpdir(), 'sp-ui-profile-'));
  const good: Buffer[] = [];
  for (let i = 0; i < 20; i++) good.push(await partImage(900 + i, { size: 160 }));
  await writePhotos('train', good, 'good');
  const defects: Buffer[] = [];
  for (let i = 0; i < 3; i++) defects.push(await partImage(950 + i, { size: 160, defect: { x: 84 - 10 * i, y: 30, size: 34 } }));
  await writePhotos('train', defects, 'defect');
  await writePhotos('good', await Promise.all([0, 1, 2].map((i) => partImage(1000 + i, { size: 160 }))), 'val-good');
  await writePhotos(
    'defective',
    await Promise.all([0, 1, 2].map((i) => partImage(1010 + i, { size: 160, defect: { x: 30 + 20 * i, y: 80, size: 24 } }))),
    'val-defect',
  );
  await writePhotos(
    'probe',
    [await partImage(1100, { size: 160, defect: { x: 40, y: 76, size: 22 } }), await partImage(1101, { size: 160 })],
    'probe',
  );

  srv = await startServer({ API_KEYS: KEY, MAX_PIXELS: '100000' });
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 860 },
  });
  page = ctx.pages()[0] ?? (await ctx.newPage());
  // Anything the page loads must come from the service itself.
  await page.route('**/*', (route) =>
    route.request().url().startsWith(srv.url) || route.request().url().startsWith('data:') || route.request().url().startsWith('blob:')
      ? route.continue()
      : route.abort(),
  );
  page.on('requestfailed', (r) => {
    if (!r.url().startsWith(srv.url)) assert.fail(`the page tried to load ${r.url()}`);
  });
});

after(async () => {
  await ctx?.close();
  await srv?.close(true);
  for (const dir of [profile, photos]) if (dir) await rm(dir, { recursive: true, force: true });
});

test('the review page: key, line, settings, uploads, build, noise report, inspection, slider', { skip, timeout: 300_000 }, async () => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  // GET /ui/ is open; the API needs the key, which the page asks for and keeps for the session.
  await page.goto(`${srv.url}/ui/`);
  const dialog = page.locator('#key-dialog');
  await dialog.waitFor({ state: 'visible' });
  await page.fill('#key-input', 'wrong-key');
  await page.click('#key-form button[type=submit]');
  await page.locator('#key-error').filter({ hasText: 'did not accept' }).waitFor();
  await page.fill('#key-input', KEY);
  await page.click('#key-form button[type=submit]');
  await page.getByText('No product line yet').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('softpatch.apiKey')), KEY);

  // Create a line; a bad id shows the service's own message.
  await page.fill('#create-line input[name=id]', 'Bad Id');
  await page.evaluate(() => document.querySelector<HTMLInputElement>('#create-line input[name=id]')!.removeAttribute('pattern'));
  await page.click('#create-line button[type=submit]');
  const refused = page.locator('.toast.error').filter({ hasText: 'Could not create the line' });
  await refused.waitFor();
  assert.match(await refused.innerText(), /body\/id must match pattern.*\(validation_failed\)/);
  await page.fill('#create-line input[name=id]', LINE);
  await page.fill('#create-line input[name=name]', 'Machined parts');
  await page.click('#create-line button[type=submit]');
  await page.waitForURL(/#\/lines\/parts\/train/);
  await page.locator('h1', { hasText: 'Machined parts' }).waitFor();

  // Settings: small frames keep the build quick.
  await page.click('.tabs a:has-text("Settings")');
  for (const [name, value] of Object.entries({
    resize: '160',
    crop: '144',
    coresetRatio: '0.25',
    removalQuantile: '0.1',
    suspectShare: '0.38',
  }))
    await page.fill(`#settings-form input[name=${name}]`, value);
  // The form offers exactly the values the API takes, the line's default selected.
  const options = (name: string) =>
    page.locator(`#settings-form select[name=${name}] option`).evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  assert.deepEqual(await options('trainRotations'), [...TRAIN_ROTATIONS]);
  assert.deepEqual(await options('align'), [...ALIGNMENTS]);
  assert.equal(await page.locator('#settings-form select[name=trainRotations]').inputValue(), 'auto');
  await page.selectOption('#settings-form select[name=trainRotations]', '180');
  await page.click('#settings-form button[type=submit]');
  await page.locator('.toast.ok', { hasText: 'Settings saved' }).waitFor();
  const line = await call(srv.url, 'GET', `/v1/lines/${LINE}`, undefined, { authorization: `Bearer ${KEY}` });
  assert.equal(line.body.config.crop, 144);
  assert.equal(line.body.config.trainRotations, '180');
  assert.equal(line.body.config.align, 'none', 'the form sends the alignment with the turns');

  // Training photos through the drop zone's file input, with progress.
  await page.click('.tabs a:has-text("Train")');
  await page.setInputFiles('#train-files', files.train);
  await page.getByText('23 photos in the training set').waitFor();
  assert.match(await page.locator('.progress .label').first().innerText(), /23 stored/);

  // Validation photos, three of each label.
  await page.click('.tabs a:has-text("Validation photos")');
  await page.setInputFiles('#validation-good', files.good);
  await page.locator('.chip', { hasText: '3 good' }).waitFor();
  await page.setInputFiles('#validation-defective', files.defective);
  await page.locator('.chip', { hasText: '3 defective' }).waitFor();
  await page.getByText('enough to evaluate').waitFor();
  assert.equal(await page.locator('.val-card').count(), 6);
  await shot('00-validation');

  // Build, watching the stages.
  await page.click('.tabs a:has-text("Train")');
  await page.click('#start-build');
  await page.locator('#cancel-build').waitFor({ state: 'visible' });
  const seen = new Set<string>();
  for (const t0 = Date.now(); Date.now() - t0 < 180_000;) {
    const current = await page.locator('.stages li.current').allInnerTexts();
    current.forEach((s) => seen.add(s.split('\n')[0]));
    if (await page.locator('#build-status .chip', { hasText: 'succeeded' }).count()) break;
    await page.waitForTimeout(100);
  }
  await page.locator('#build-status .chip', { hasText: 'succeeded' }).waitFor({ timeout: 1000 });
  assert.ok(seen.size >= 1, `stages seen live: ${[...seen]}`);
  assert.equal(await page.locator('.stages li.done').count(), 6, 'every stage done');
  await page.locator('#cancel-build').waitFor({ state: 'hidden' });
  await shot('01-build');

  // Banks: the new bank carries its validation figures.
  await page.click('.tabs a:has-text("Banks")');
  const row = page.locator('#banks-table tbody tr').first();
  await row.waitFor();
  const cells = await row.locator('td').allInnerTexts();
  assert.equal(cells[0], 'v1');
  assert.ok(Number(cells[5]) > 0.5, `AUROC shown: ${cells[5]}`);
  assert.match(cells.join(' '), /active/);
  await shot('01-banks');

  // Noise report: the defective uploads first, marked suspect, thumbnails with the removal overlay.
  await page.click('.tabs a:has-text("Noise report")');
  const cards = page.locator('#noise-gallery .noise-card');
  await cards.first().waitFor();
  assert.equal(await cards.count(), 23);
  const names = await cards.evaluateAll((els) => els.map((e) => e.getAttribute('data-filename')));
  assert.deepEqual(
    names.slice(0, 3).map((n) => n!.startsWith('defect-')),
    [true, true, true],
    names.join(','),
  );
  // The three defective uploads are suspects; the default leave-one-out evidence may add one clean outlier.
  const suspects = await page.locator('#noise-gallery .noise-card.suspect').count();
  assert.ok(suspects >= 3 && suspects <= 4, `suspects ${suspects}`);
  // Thumbnails load as they come into view: the first rows at once.
  await page.waitForFunction(() => {
    const first = [...document.querySelectorAll('#noise-gallery img')].slice(0, 10) as HTMLImageElement[];
    return first.length === 10 && first.every((i) => i.complete && i.naturalWidth > 0);
  });
  const thumb = await cards
    .first()
    .locator('img')
    .evaluate((i) => ({ w: (i as HTMLImageElement).naturalWidth, src: (i as HTMLImageElement).src }));
  assert.equal(thumb.w, 160, 'the removal overlay at the photo size');
  await shot('02-noise-report');
  await readmeShot('noise-report');

  // One click removes a photo from the training set; the rebuild button becomes available.
  assert.equal(await page.locator('#rebuild').isDisabled(), true);
  await cards.first().locator('button', { hasText: 'Remove from training' }).click();
  await cards.first().locator('.chip', { hasText: 'removed from training' }).waitFor();
  assert.equal(await page.locator('#rebuild').isDisabled(), false);
  const imgs = await call(srv.url, 'GET', `/v1/lines/${LINE}/images`, undefined, { authorization: `Bearer ${KEY}` });
  assert.equal(imgs.body.total, 22);
  assert.ok(!imgs.body.images.some((i: { filename: string }) => i.filename === names[0]));

  // Inspect a defective and a good photo: overlay on the photo, decision, score, regions.
  await page.click('.tabs a:has-text("Inspect")');
  await page.locator('#threshold-slider').waitFor();
  await page.setInputFiles('#inspect-files', files.probe);
  const results = page.locator('#inspect-results .result');
  await results.nth(1).waitFor();
  const decisions = await results.locator('.decision').allInnerTexts();
  assert.deepEqual(decisions, ['Anomalous', 'Normal']);
  const geometry = await results.first().evaluate((el) => {
    const img = el.querySelector('.overlay-frame img') as HTMLImageElement;
    const frame = el.querySelector('.overlay-frame')!.getBoundingClientRect();
    const box = img.getBoundingClientRect();
    const region = el.querySelector('.region')?.getBoundingClientRect();
    return {
      natural: [img.naturalWidth, img.naturalHeight],
      frame: [frame.x, frame.y, frame.width, frame.height],
      img: [box.x, box.y, box.width, box.height],
      region: region ? [region.x, region.y, region.width, region.height] : null,
    };
  });
  assert.deepEqual(geometry.natural, [160, 160]);
  geometry.frame.forEach((v, i) =>
    assert.ok(Math.abs(v - geometry.img[i]) < 1.5, `overlay sits on its frame: ${geometry.img} vs ${geometry.frame}`),
  );
  assert.ok(geometry.region, 'a region box is drawn');
  const [rx, ry, rw, rh] = geometry.region!;
  const [ix, iy, iw, ih] = geometry.img;
  assert.ok(rx >= ix - 1 && ry >= iy - 1 && rx + rw <= ix + iw + 1 && ry + rh <= iy + ih + 1, 'the region lies on the photo');
  // The defect (x 40..62, y 76..98 of 160) is inside the main region.
  const cx = ix + ((40 + 11) / 160) * iw;
  const cy = iy + ((76 + 11) / 160) * ih;
  assert.ok(cx >= rx && cx <= rx + rw && cy >= ry && cy <= ry + rh, `defect centre (${cx}, ${cy}) inside region ${geometry.region}`);
  assert.match(await results.first().locator('.figures').innerText(), /Score[\s\S]*Threshold[\s\S]*Bank[\s\S]*v1 \(active\)/);
  await shot('03-inspect');
  await readmeShot('inspection');

  // The slider: at the lowest threshold every validation photo is flagged, the good probe too.
  assert.match(await page.locator('#slider-changes').innerText(), /No validation photo changes/);
  await page.locator('#threshold-slider').evaluate((el) => {
    const input = el as HTMLInputElement;
    input.value = input.min;
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
  assert.match(await page.locator('#slider-changes').innerText(), /3 validation photos would change/);
  assert.match(await page.locator('#slider-figures').innerText(), /False alarms\s*3\s*\+3/);
  assert.deepEqual(await results.locator('.decision').allInnerTexts(), ['Anomalous', 'Anomalous']);
  await shot('04-slider');

  // Rebuild without the removed photo, roll back to the first bank, then cancel a build.
  await page.click('.tabs a:has-text("Noise report")');
  await page.locator('#noise-gallery .noise-card').first().waitFor();
  await page.locator('#noise-gallery .noise-card').nth(1).locator('button', { hasText: 'Remove from training' }).click();
  await page.click('#rebuild');
  await page.waitForURL(/#\/lines\/parts\/train/);
  await page.locator('#build-status .chip', { hasText: 'succeeded' }).waitFor({ timeout: 120_000 });
  await page.locator('.stat', { hasText: 'v2' }).waitFor();
  await page.click('.tabs a:has-text("Banks")');
  const rollback = page.locator('#banks-table tbody tr', { hasText: 'v1' }).locator('button', { hasText: 'Roll back to this' });
  await rollback.click();
  await page.locator('#banks-table tbody tr.active-row', { hasText: 'v1' }).waitFor();
  assert.equal((await call(srv.url, 'GET', `/v1/lines/${LINE}`, undefined, { authorization: `Bearer ${KEY}` })).body.activeBank.version, 1);
  await page.click('.tabs a:has-text("Train")');
  await page.click('#start-build');
  await page.click('#cancel-build');
  await page.locator('#build-status .chip', { hasText: 'cancelled' }).waitFor({ timeout: 30_000 });
  await shot('05-cancelled');

  assert.deepEqual(errors, [], 'no script errors on the page');
});
