/** The review page's files: served by the service itself, open without a key, with a same-origin CSP. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { UI_DIR } from '../../src/http/ui.js';
import { startServer, type TestServer } from './server.js';

let srv: TestServer;
before(async () => {
  srv = await startServer({ API_KEYS: 'k1' }, { waitForBackbone: false });
});
after(async () => {
  await srv.close(true);
});

test('GET /ui/ serves the page and every file it loads, without a key; the API still needs one', async () => {
  const index = await fetch(`${srv.url}/ui/`);
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type') ?? '', /^text\/html/);
  const csp = index.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'self'/);
  const html = await index.text();
  // Everything the page references is one of our own files.
  const refs = [...html.matchAll(/(?:src|href)="([^"#]+)"/g)].map((m) => m[1]);
  assert.ok(refs.length >= 3, refs.join(','));
  const files = new Set(await readdir(UI_DIR));
  for (const ref of refs) {
    assert.ok(!/^[a-z]+:|^\/\//i.test(ref), `${ref} is not from this service`);
    assert.ok(files.has(ref), `${ref} exists in ui/`);
    const res = await fetch(`${srv.url}/ui/${ref}`);
    assert.equal(res.status, 200, ref);
  }
  const js = await fetch(`${srv.url}/ui/app.js`);
  assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
  assert.ok(!/https?:\/\//.test(await js.text()), 'the script loads nothing from elsewhere');
  const redirect = await fetch(`${srv.url}/ui`, { redirect: 'manual' });
  assert.equal(redirect.status, 302);
  assert.equal(redirect.headers.get('location'), '/ui/');
  const missing = await fetch(`${srv.url}/ui/nope.js`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, 'not_found');
  assert.equal((await fetch(`${srv.url}/v1/lines`)).status, 401);
});
