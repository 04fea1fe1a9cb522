/** Backbone folders: `manifest.json` plus the ONNX files it names, checked by sha256. */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { appError } from '../common/errors.js';
import type { BackboneManifest } from './types.js';

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await fs.open(file, 'r');
  try {
    for await (const chunk of handle.createReadStream()) hash.update(chunk as Buffer);
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

export async function readManifest(dir: string): Promise<BackboneManifest> {
  const file = path.join(dir, 'manifest.json');
  let raw: string;
  try {
    raw = await fs.readFile(file, 'utf8');
  } catch {
    throw appError('BACKBONE_INVALID', [dir, 'no manifest.json (run `npm run build` to build the default backbone)']);
  }
  let m: BackboneManifest;
  try {
    m = JSON.parse(raw) as BackboneManifest;
  } catch (err) {
    throw appError('BACKBONE_INVALID', [dir, `manifest.json is not JSON: ${(err as Error).message}`]);
  }
  const missing = ['id', 'featureModel', 'featureModelSha256', 'input', 'output', 'preprocessing'].filter((k) => !(k in m));
  if (missing.length) throw appError('BACKBONE_INVALID', [dir, `manifest.json lacks ${missing.join(', ')}`]);
  if (m.input.layout !== 'NCHW' || m.input.colorOrder !== 'RGB')
    throw appError('BACKBONE_INVALID', [dir, 'only NCHW RGB inputs are supported']);
  if (m.output.kind !== 'patchFeatures' && m.output.kind !== 'layers')
    throw appError('BACKBONE_INVALID', [dir, `unknown output kind ${(m.output as { kind: string }).kind}`]);
  return m;
}

/** Checks every model file of the manifest against its recorded sha256; returns the problems. */
export async function verifyModelFiles(dir: string, m: BackboneManifest): Promise<string[]> {
  const files: Array<[string, string]> = [[m.featureModel, m.featureModelSha256]];
  if (m.classifierModel && m.classifierModelSha256) files.push([m.classifierModel, m.classifierModelSha256]);
  const problems: string[] = [];
  for (const [name, expected] of files) {
    try {
      const actual = await sha256File(path.join(dir, name));
      if (actual !== expected) problems.push(`${name}: sha256 ${actual} differs from the manifest's ${expected}`);
    } catch {
      problems.push(`${name}: missing`);
    }
  }
  return problems;
}
