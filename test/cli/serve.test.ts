/**
 * `softpatch serve` as a process (issue 16): a missing backbone is reported by /readyz, and
 * SIGTERM drains first (readiness 503 while requests are still answered), then stops cleanly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawnServer } from '../helpers/child-server.js';
import { call } from '../http/server.js';

test('backbone missing at start: alive, not ready, with the reason; SIGTERM drains, then exits 0', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sp-serve-'));
  const drainMs = 1500;
  const srv = await spawnServer(
    { DATA_DIR: dataDir, BACKBONE_DIR: path.join(dataDir, 'no-backbone'), DRAIN_MS: String(drainMs), LOG_LEVEL: 'info' },
    'any',
  );
  try {
    // The backbone check settles quickly when the folder is missing.
    let ready = await call(srv.base, 'GET', '/readyz');
    for (let i = 0; i < 100 && /still loading/.test(JSON.stringify(ready.body)); i++) {
      await new Promise((r) => setTimeout(r, 50));
      ready = await call(srv.base, 'GET', '/readyz');
    }
    assert.equal(ready.status, 503);
    assert.equal(ready.body.error.code, 'unavailable');
    assert.equal(ready.body.error.details.checks.backbone.ok, false);
    assert.match(ready.body.error.details.checks.backbone.message, /backbone not loaded: .*no-backbone/);
    assert.equal((await call(srv.base, 'GET', '/healthz')).status, 200);

    // Service log lines carry the id of the request they were written for.
    const created = await call(srv.base, 'POST', '/v1/lines', { id: 'drain' }, { 'x-request-id': 'req-line-1' });
    assert.equal(created.status, 201);
    await new Promise((r) => setTimeout(r, 100));
    const line = srv.logs.find((l) => l.msg === 'line created');
    assert.equal(line?.requestId, 'req-line-1', JSON.stringify(line));

    const t0 = Date.now();
    srv.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const during = await call(srv.base, 'GET', '/readyz');
    assert.equal(during.status, 503);
    assert.equal(during.body.error.details.checks.shutdown.ok, false, 'readiness reports the shutdown');
    const served = await call(srv.base, 'GET', '/v1/lines/drain');
    assert.equal(served.status, 200, 'requests are still served while draining');
    assert.equal(await srv.exited, 0);
    const took = Date.now() - t0;
    assert.ok(took >= drainMs, `stopped after ${took} ms, before the drain of ${drainMs} ms`);
    assert.ok(took < drainMs + 10_000, `stopped after ${took} ms`);
  } finally {
    if (srv.child.exitCode === null) srv.child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});
