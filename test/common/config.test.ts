/** Sizing from the container (issue 16, item 6): cgroup CPU quota and memory limit. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, readContainerLimits, sizingDefaults } from '../../src/common/config.js';

async function cgroup(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'sp-cgroup-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), `${text}\n`);
  }
  return root;
}

test('cgroup v2 and v1 limits are read; "max" and absent files mean no limit', async () => {
  const cases: [Record<string, string>, { cpus: number | null; memoryBytes: number | null }][] = [
    [
      { 'cpu.max': '200000 100000', 'memory.max': '2147483648' },
      { cpus: 2, memoryBytes: 2147483648 },
    ],
    [{ 'cpu.max': '150000 100000' }, { cpus: 2, memoryBytes: null }],
    [
      { 'cpu.max': 'max 100000', 'memory.max': 'max' },
      { cpus: null, memoryBytes: null },
    ],
    [
      { 'cpu/cpu.cfs_quota_us': '50000', 'cpu/cpu.cfs_period_us': '100000', 'memory/memory.limit_in_bytes': '1073741824' },
      { cpus: 1, memoryBytes: 1073741824 },
    ],
    [
      { 'cpu/cpu.cfs_quota_us': '-1', 'cpu/cpu.cfs_period_us': '100000', 'memory/memory.limit_in_bytes': '9223372036854771712' },
      { cpus: null, memoryBytes: null },
    ],
    [{}, { cpus: null, memoryBytes: null }],
  ];
  for (const [files, expected] of cases) {
    const root = await cgroup(files);
    try {
      assert.deepEqual(readContainerLimits(root), expected, JSON.stringify(files));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
});

test('worker and thread defaults follow the CPU quota, the memory budget the memory limit', () => {
  const host = os.availableParallelism();
  const quota = sizingDefaults({ cpus: 1, memoryBytes: 1 << 30 });
  assert.equal(quota.inspectWorkers, 1, `--cpus=1 on a ${host}-core host`);
  assert.equal(quota.ortThreads, 1);
  assert.equal(quota.memoryBudgetBytes, Math.floor(0.8 * Math.min(os.totalmem(), 1 << 30)));
  const none = sizingDefaults({ cpus: null, memoryBytes: null });
  assert.equal(none.inspectWorkers, host);
  assert.equal(none.memoryBudgetBytes, Math.floor(0.8 * os.totalmem()));
  // A quota above the host's cores does not invent cores.
  assert.equal(sizingDefaults({ cpus: host + 8, memoryBytes: null }).inspectWorkers, host);
  assert.equal(loadConfig({ MEMORY_BUDGET_BYTES: '12345' }).memoryBudgetBytes, 12345);
  assert.throws(() => loadConfig({ MEMORY_BUDGET_BYTES: '0' }), /MEMORY_BUDGET_BYTES/);
});
