/**
 * `softpatch doctor`: is this installation able to serve? Checks the backbone files against their
 * sha256, classifies the two CC0 reference photos, reports onnxruntime threads and whether
 * DATA_DIR is writable. Exits 1 with the failing checks listed.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { loadConfig, PROJECT_ROOT } from '../common/config.js';
import { loadClassifier } from '../backbone/classifier.js';
import { prepareImage } from '../backbone/index.js';
import { readManifest, verifyModelFiles } from '../backbone/manifest.js';
import { Store } from '../store/index.js';
import { defineCommand, type CommandSpec, type ParsedArgs } from './args.js';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

interface Expectation {
  k: number;
  classes: Record<string, string>;
}

export const NATURAL_FIXTURES = path.join(PROJECT_ROOT, 'test', 'fixtures', 'natural');

async function classifierChecks(backboneDir: string, threads: number): Promise<Check[]> {
  const expected = JSON.parse(await fs.readFile(path.join(NATURAL_FIXTURES, 'expected.json'), 'utf8')) as Record<
    string,
    Expectation | string
  >;
  const manifest = await readManifest(backboneDir);
  const classifier = await loadClassifier(backboneDir, threads);
  const checks: Check[] = [];
  try {
    for (const [file, exp] of Object.entries(expected)) {
      if (typeof exp === 'string') continue;
      const image = await prepareImage(await fs.readFile(path.join(NATURAL_FIXTURES, file)), manifest.preprocessing);
      const top = await classifier.classify(image, exp.k);
      const ok = top.some((c) => String(c.index) in exp.classes);
      checks.push({
        name: `classify ${file}`,
        ok,
        detail: `top-${exp.k}: ${top.map((c) => `${c.index} ${c.label} ${(100 * c.probability).toFixed(1)}%`).join(', ')}; expected one of ${Object.keys(exp.classes).join(', ')}`,
      });
    }
  } finally {
    await classifier.close();
  }
  return checks;
}

const spec = {
  summary:
    'Check the installation: backbone files against their sha256, the classifier on two reference photos, onnxruntime threads, DATA_DIR writable.',
  options: { json: { type: 'boolean', default: false, description: 'print one JSON object' } },
} as const satisfies CommandSpec;

async function run({ values }: ParsedArgs<typeof spec.options>): Promise<number> {
  const config = loadConfig();
  const checks: Check[] = [];
  try {
    const manifest = await readManifest(config.backboneDir);
    const problems = await verifyModelFiles(config.backboneDir, manifest);
    checks.push({
      name: 'backbone files',
      ok: problems.length === 0,
      detail: problems.length ? problems.join('; ') : `${manifest.id} in ${config.backboneDir}, sha256 verified`,
    });
    if (problems.length === 0) checks.push(...(await classifierChecks(config.backboneDir, config.ortThreads)));
  } catch (err) {
    checks.push({ name: 'backbone', ok: false, detail: (err as Error).message });
  }
  checks.push({
    name: 'onnxruntime',
    ok: true,
    detail: `onnxruntime-node ${ort.env.versions.node}, ${config.ortThreads} intra-op thread(s) (ORT_THREADS)`,
  });
  try {
    await new Store(config.dataDir, 1).assertWritable();
    checks.push({ name: 'data directory', ok: true, detail: `${config.dataDir} is writable` });
  } catch (err) {
    checks.push({ name: 'data directory', ok: false, detail: `${config.dataDir}: ${(err as Error).message}` });
  }
  const ok = checks.every((c) => c.ok);
  if (values.json) console.log(JSON.stringify({ ok, checks }));
  else {
    for (const c of checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}`);
    console.log(ok ? 'doctor: all checks passed' : 'doctor: some checks failed');
  }
  return ok ? 0 : 1;
}

export const command = defineCommand(spec, run);
