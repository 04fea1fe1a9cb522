/** Keys with scopes (issue 16, item 4): inspect keys read and inspect, admin keys do everything. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/common/config.js';
import { keyMatcher } from '../../src/http/security.js';
import { call, form, partImage, startServer } from './server.js';

test('API_KEYS entries carry a scope; a bare key is an admin key; API_KEYS_FILE adds keys', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sp-keys-'));
  try {
    const file = path.join(dir, 'keys');
    await writeFile(file, 'inspect:station-7\nadmin:ops-key\n\n');
    const c = loadConfig({ API_KEYS: 'admin:key1, inspect:key2,legacy', API_KEYS_FILE: file });
    assert.deepEqual(c.apiKeys, [
      { key: 'key1', scope: 'admin' },
      { key: 'key2', scope: 'inspect' },
      { key: 'legacy', scope: 'admin' },
      { key: 'station-7', scope: 'inspect' },
      { key: 'ops-key', scope: 'admin' },
    ]);
    assert.throws(() => loadConfig({ API_KEYS_FILE: path.join(dir, 'missing') }), /API_KEYS_FILE/);
    assert.throws(() => loadConfig({ API_KEYS: 'inspect:' }), /has no key/);
    const match = keyMatcher(c.apiKeys);
    assert.equal(match('key2'), 'inspect');
    assert.equal(match('ops-key'), 'admin');
    assert.equal(match('key'), null);
    // The same key listed with both scopes is an admin key, whichever comes first.
    assert.equal(
      keyMatcher([
        { key: 'k', scope: 'admin' },
        { key: 'k', scope: 'inspect' },
      ])('k'),
      'admin',
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an inspect key reads and inspects, and is refused (403 forbidden) everything else', async () => {
  const srv = await startServer({ API_KEYS: 'admin:boss,inspect:station,plain' }, { waitForBackbone: false });
  try {
    const as = (key: string) => ({ authorization: `Bearer ${key}` });
    const created = await call(srv.url, 'POST', '/v1/lines', { id: 'scoped' }, as('station'));
    assert.equal(created.status, 403, JSON.stringify(created.body));
    assert.equal(created.body.error.code, 'forbidden');
    assert.ok(created.body.requestId);
    assert.equal((await call(srv.url, 'POST', '/v1/lines', { id: 'scoped' }, as('boss'))).status, 201);
    assert.equal((await call(srv.url, 'POST', '/v1/lines', { id: 'legacy' }, as('plain'))).status, 201, 'a bare key keeps admin rights');
    assert.equal((await call(srv.url, 'GET', '/v1/lines', undefined, as('station'))).status, 200);
    assert.equal((await call(srv.url, 'GET', '/v1/lines/scoped', undefined, as('station'))).status, 200);
    for (const [method, url, body] of [
      ['PATCH', '/v1/lines/scoped', { name: 'x' }],
      ['DELETE', '/v1/lines/scoped', undefined],
      ['POST', '/v1/lines/scoped/builds', undefined],
      ['DELETE', '/v1/lines/scoped/banks/1', undefined],
      ['POST', '/v1/lines/scoped/images', form([{ name: 'a.png', bytes: await partImage(1, { size: 32 }) }])],
    ] as const) {
      const r = await call(srv.url, method, url, body, as('station'));
      assert.equal(r.status, 403, `${method} ${url}: ${JSON.stringify(r.body)}`);
    }
    // Inspection is allowed: the answer is the line's own state (no bank yet), not an auth error.
    const inspected = await call(
      srv.url,
      'POST',
      '/v1/lines/scoped/inspect',
      form([{ name: 'a.png', bytes: await partImage(1, { size: 32 }) }]),
      as('station'),
    );
    assert.ok(![401, 403].includes(inspected.status), JSON.stringify(inspected.body));
    assert.equal((await call(srv.url, 'DELETE', '/v1/lines/scoped', undefined, as('boss'))).status, 204);
  } finally {
    await srv.close(true);
  }
});
