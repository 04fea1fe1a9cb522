import fs from 'node:fs/promises';
import { loadConfig } from '../common/config.js';
import { loadClassifier } from '../backbone/classifier.js';
import { prepareImage } from '../backbone/index.js';
import { readManifest } from '../backbone/manifest.js';
import { appError } from '../common/errors.js';
import { defineCommand, type CommandSpec, type ParsedArgs } from './args.js';

const spec = {
  synopsis: '<image>',
  summary: "Classify one image with the backbone's ImageNet head (a sanity check of the model).",
  options: {
    top: { type: 'string', default: '5', arg: 'k', description: 'how many classes to print' },
    json: { type: 'boolean', default: false, description: 'print one JSON object' },
  },
  positionals: { min: 1, max: 1 },
} as const satisfies CommandSpec;

async function run({ values, positionals }: ParsedArgs<typeof spec.options>): Promise<number> {
  const top = Number(values.top);
  if (!Number.isInteger(top) || top < 1) throw appError('USAGE', [`--top must be a positive integer, got "${values.top}"`]);
  const config = loadConfig();
  const manifest = await readManifest(config.backboneDir);
  const classifier = await loadClassifier(config.backboneDir, config.ortThreads);
  try {
    const image = await prepareImage(await fs.readFile(positionals[0]), { ...manifest.preprocessing, maxPixels: config.maxPixels });
    const classes = await classifier.classify(image, top);
    if (values.json) console.log(JSON.stringify({ image: positionals[0], top: classes }));
    else
      for (const c of classes) console.log(`${String(c.index).padStart(4)}  ${(100 * c.probability).toFixed(2).padStart(6)} %  ${c.label}`);
  } finally {
    await classifier.close();
  }
  return 0;
}

export const command = defineCommand(spec, run);
