/** The backbone commands as a user runs them: `softpatch classify | features | doctor`. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { CLI, NATURAL_DIR } from '../helpers/paths.js';

const run = promisify(execFile);

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

interface Top {
  top: Array<{ index: number; label: string; probability: number }>;
}

test('classify: the cat photo has tabby, tiger cat or Egyptian cat in its top 3', async () => {
  const { stdout, code } = await cli(['classify', path.join(NATURAL_DIR, 'chelsea.png'), '--top', '3', '--json']);
  assert.equal(code, 0);
  const r = JSON.parse(stdout) as Top;
  assert.equal(r.top.length, 3);
  assert.ok(
    r.top.some((c) => [281, 282, 285].includes(c.index)),
    JSON.stringify(r.top),
  );
});

test('classify: the coffee photo is espresso first', async () => {
  const { stdout, code } = await cli(['classify', path.join(NATURAL_DIR, 'coffee.png'), '--json']);
  assert.equal(code, 0);
  const r = JSON.parse(stdout) as Top;
  assert.equal(r.top[0].index, 967);
  assert.equal(r.top[0].label, 'espresso');
});

test('features: 28×28 grid of 1024-d patches for a 224 crop', async () => {
  const { stdout, code } = await cli(['features', path.join(NATURAL_DIR, 'coffee.png'), '--json']);
  assert.equal(code, 0);
  const r = JSON.parse(stdout) as { grid: { h: number; w: number }; dim: number; patches: number };
  assert.deepEqual(r.grid, { h: 28, w: 28 });
  assert.equal(r.dim, 1024);
  assert.equal(r.patches, 784);
});

test('doctor passes on this installation and fails clearly on a broken backbone folder', async () => {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'doctor-'));
  try {
    const ok = await cli(['doctor', '--json'], { DATA_DIR: dataDir });
    const report = JSON.parse(ok.stdout) as { ok: boolean; checks: Array<{ name: string; ok: boolean }> };
    assert.equal(ok.code, 0, ok.stdout);
    assert.equal(report.ok, true);
    assert.ok(report.checks.some((c) => c.name === 'classify coffee.png' && c.ok));
    const bad = await cli(['doctor', '--json'], { DATA_DIR: dataDir, BACKBONE_DIR: dataDir });
    assert.equal(bad.code, 1);
    const badReport = JSON.parse(bad.stdout) as { ok: boolean; checks: Array<{ name: string; ok: boolean }> };
    assert.equal(badReport.ok, false);
  } finally {
    await fs.rm(dataDir, { recursive: true, force: true });
  }
});

test('an unknown command is a usage error (exit 2) with the list of commands', async () => {
  const r = await cli(['frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command "frobnicate"/);
  assert.match(r.stderr, /build-models/);
});

test("a bad option or a stray argument is a usage error with exit code 2 and the command's help", async () => {
  const bogus = await cli(['classify', '--bogus', 'x']);
  assert.equal(bogus.code, 2);
  assert.match(bogus.stderr, /^error \[usage\]: Unknown option '--bogus'/);
  assert.match(bogus.stderr, /usage: softpatch classify <image>/);
  const stray = await cli(['doctor', 'extra']);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /unexpected argument "extra"/);
  const missing = await cli(['features']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /missing <image>/);
  const serve = await cli(['serve', '--port']);
  assert.equal(serve.code, 2, 'serve refuses an option without its value instead of ignoring it');
});

test('every command answers --help with its options and their defaults; --version prints the package version', async () => {
  for (const [name, option] of [
    ['eval', '--noise <list>'],
    ['bench', '--runs <n>'],
    ['serve', '--port <n>'],
    ['classify', '--top <k>'],
    ['doctor', '--json'],
    ['features', '--json'],
    ['build-models', '--force'],
  ]) {
    const r = await cli([name, '--help']);
    assert.equal(r.code, 0, `${name} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage: softpatch ${name}`), name);
    assert.ok(r.stdout.includes(option), `${name} --help lists ${option}`);
  }
  assert.match((await cli(['eval', '--help'])).stdout, /--noise <list> +comma-separated noise ratios \(default: 0\.1\)/);
  const v = await cli(['--version']);
  assert.equal(v.code, 0);
  const pkg = JSON.parse(await fs.readFile(path.join(path.dirname(CLI), '..', 'package.json'), 'utf8')) as { version: string };
  assert.equal(v.stdout.trim(), pkg.version);
});
