/** The ImageNet classifier variant of a backbone, used only to verify it (doctor, classify, tests). */
import fs from 'node:fs/promises';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { appError } from '../common/errors.js';
import { sessionOptions } from './index.js';
import { readManifest } from './manifest.js';
import type { PreparedImage } from './types.js';

export interface ClassScore {
  index: number;
  label: string;
  probability: number;
}

export interface Classifier {
  classify(image: PreparedImage, top: number): Promise<ClassScore[]>;
  close(): Promise<void>;
}

export async function loadClassifier(dir: string, threads: number): Promise<Classifier> {
  const m = await readManifest(dir);
  if (!m.classifierModel || !m.classifier) throw appError('BACKBONE_INVALID', [dir, 'the manifest names no classifier model']);
  const labels = JSON.parse(await fs.readFile(path.join(dir, m.classifier.labels), 'utf8')) as Record<string, string>;
  const session = await ort.InferenceSession.create(path.join(dir, m.classifierModel), sessionOptions(threads));
  const output = m.classifier.output;
  return {
    async classify(image, top) {
      const input = new ort.Tensor('float32', image.data, [1, 3, image.height, image.width]);
      const result = await session.run({ [m.input.name]: input }, [output]);
      const probs = result[output].data as Float32Array;
      return Array.from(probs, (p, i) => ({ index: i, label: labels[String(i)] ?? String(i), probability: p }))
        .sort((a, b) => b.probability - a.probability || a.index - b.index)
        .slice(0, top);
    },
    close: () => session.release(),
  };
}
