/**
 * A corrupted bank file (issue 16, item 1): the active bank damaged on disk answers with a clear
 * error naming the bank and the file after a restart, a damaged bank cannot be activated (the
 * active one stays), and the other banks of the line can still be activated and inspect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildBank, photoForm, uploadPhotos } from '../helpers/line-ops.js';
import { tinyBackboneDir } from '../helpers/tiny-backbone.js';
import { call, startServer, tempDataDir } from '../http/server.js';

const LINE = 'damaged';

/** Flips one byte in the middle of a file. */
async function flipByte(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    const { size } = await fh.stat();
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, size >> 1);
    b[0] ^= 0xff;
    await fh.write(b, 0, 1, size >> 1);
  } finally {
    await fh.close();
  }
}

test('a corrupted bank: clear error, refused activation, the other banks still activatable', async () => {
  const backboneDir = await tinyBackboneDir();
  const dataDir = await tempDataDir();
  const env = { BACKBONE_DIR: backboneDir, MIN_TRAIN_IMAGES: '4', DATA_DIR: dataDir };
  let srv = await startServer(env);
  try {
    assert.equal((await call(srv.url, 'POST', '/v1/lines', { id: LINE, config: { resize: 64, crop: 64, coresetRatio: 0.5 } })).status, 201);
    await uploadPhotos(srv.url, LINE, [1, 2, 3, 4, 5]);
    for (const v of [1, 2, 3]) assert.equal(await buildBank(srv.url, LINE), v);
    const banks = path.join(dataDir, 'lines', LINE, 'banks');
    await flipByte(path.join(banks, '3', 'cls.features.bin'));
    await writeFile(path.join(banks, '1', 'meta.json'), '{"format": 1, "tru');

    // After a restart nothing is cached: the damaged active bank is reported, by name and file.
    await srv.close();
    srv = await startServer(env);
    const probe = await photoForm([40]);
    const inspected = await call(srv.url, 'POST', `/v1/lines/${LINE}/inspect`, probe);
    assert.equal(inspected.status, 500);
    assert.equal(inspected.body.error.code, 'bank_corrupt');
    assert.match(inspected.body.error.message, /Bank damaged\/3 .*cls\.features\.bin does not match its sha256.*activate another version/);

    for (const [v, file] of [
      [3, /cls\.features\.bin/],
      [1, /meta\.json/],
    ] as const) {
      const refused = await call(srv.url, 'POST', `/v1/lines/${LINE}/banks/${v}/activate`);
      assert.equal(refused.status, 500, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'bank_corrupt');
      assert.match(refused.body.error.message, file);
    }
    assert.equal(
      (await call(srv.url, 'GET', `/v1/lines/${LINE}`)).body.activeBank.version,
      3,
      'a refused activation leaves the active bank',
    );
    const listing = await call(srv.url, 'GET', `/v1/lines/${LINE}/banks`);
    assert.equal(listing.status, 200);
    assert.deepEqual(
      listing.body.banks.map((b: { version: number }) => b.version),
      [3, 2],
      'an unreadable meta.json is left out of the listing',
    );

    const activated = await call(srv.url, 'POST', `/v1/lines/${LINE}/banks/2/activate`);
    assert.equal(activated.status, 200, JSON.stringify(activated.body));
    const ok = await call(srv.url, 'POST', `/v1/lines/${LINE}/inspect`, probe);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.bank.version, 2);
  } finally {
    await srv.close(true);
    await rm(backboneDir, { recursive: true, force: true });
  }
});
