/**
 * Readiness and load shedding (issue 16): a corrupt backbone keeps /readyz at 503 with the reason;
 * under pressure the API and /readyz answer 503 + Retry-After.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_BACKBONE_DIR } from '../helpers/paths.js';
import { call, startServer } from './server.js';

test('a corrupt backbone at start: /readyz 503 naming the file and its sha256', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sp-corrupt-backbone-'));
  try {
    await copyFile(path.join(DEFAULT_BACKBONE_DIR, 'manifest.json'), path.join(dir, 'manifest.json'));
    // The first megabyte of the real model: a truncated download.
    const fh = await open(path.join(DEFAULT_BACKBONE_DIR, 'features.onnx'), 'r');
    const head = Buffer.alloc(1 << 20);
    await fh.read(head, 0, head.length, 0);
    await fh.close();
    await writeFile(path.join(dir, 'features.onnx'), head);
    const srv = await startServer({ BACKBONE_DIR: dir });
    try {
      const ready = await call(srv.url, 'GET', '/readyz');
      assert.equal(ready.status, 503);
      assert.match(ready.body.error.details.checks.backbone.message, /features\.onnx: sha256 .* differs/);
      assert.equal(ready.body.error.details.checks.dataDir.ok, true);
      assert.equal((await call(srv.url, 'GET', '/healthz')).status, 200);
    } finally {
      await srv.close(true);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('over the heap limit: 503 overloaded with Retry-After; liveness and metrics still answer', async () => {
  const srv = await startServer({ PRESSURE_MAX_HEAP_BYTES: '1' }, { waitForBackbone: false });
  try {
    // under-pressure samples once a second.
    await new Promise((r) => setTimeout(r, 1300));
    const shed = await call(srv.url, 'GET', '/v1/lines');
    assert.equal(shed.status, 503, JSON.stringify(shed.body));
    assert.equal(shed.body.error.code, 'overloaded');
    assert.match(shed.body.error.message, /heapUsedBytes/);
    assert.equal(shed.headers.get('retry-after'), '2');
    assert.equal((await call(srv.url, 'GET', '/readyz')).status, 503);
    assert.equal((await call(srv.url, 'GET', '/healthz')).status, 200);
    assert.equal((await call(srv.url, 'GET', '/metrics')).status, 200);
  } finally {
    await srv.close(true);
  }
});

test('with the default limits nothing is shed', async () => {
  const srv = await startServer({}, { waitForBackbone: false });
  try {
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal((await call(srv.url, 'GET', '/v1/lines')).status, 200);
  } finally {
    await srv.close(true);
  }
});
