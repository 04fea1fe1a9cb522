/** `softpatch bench soak` (issue 16, item 5): a short bounded run reports errors, p99 and RSS drift. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CLI } from '../helpers/paths.js';
import { writeTinyBackbone } from '../helpers/tiny-backbone.js';

const run = promisify(execFile);

test('bench soak --seconds 4 --clients 2: no errors, latency percentiles and RSS figures', async () => {
  const backboneDir = await mkdtemp(path.join(os.tmpdir(), 'sp-tiny-'));
  try {
    await writeTinyBackbone(backboneDir);
    const env = { ...process.env, BACKBONE_DIR: backboneDir, INSPECT_WORKERS: '1', ORT_THREADS: '1' };
    const { stdout } = await run(process.execPath, [CLI, 'bench', 'soak', '--seconds', '4', '--clients', '2', '--warmup', '1', '--json'], {
      env,
      timeout: 120_000,
    });
    const r = JSON.parse(stdout);
    assert.equal(r.benchmark, 'soak');
    assert.equal(r.clients, 2);
    assert.equal(r.errors, 0, JSON.stringify(r.errorsByKind));
    assert.ok(r.requests >= 10, `only ${r.requests} requests`);
    assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.p99 >= r.latencyMs.p50, JSON.stringify(r.latencyMs));
    assert.ok(r.rssMB.afterWarmup > 0 && r.rssMB.end > 0 && Number.isFinite(r.rssDriftPercent), JSON.stringify(r.rssMB));
    await assert.rejects(run(process.execPath, [CLI, 'bench', 'soak', '--seconds', '99999'], { env }), /--seconds 1\.\.3600/);
  } finally {
    await rm(backboneDir, { recursive: true, force: true });
  }
});
