/** Load shedding (issue 16, item 3): under pressure the API and /readyz answer 503 + Retry-After. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { call, startServer } from './server.js';

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
