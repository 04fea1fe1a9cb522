import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../common/config.js';
import { loadClassifier } from '../backbone/classifier.js';
import { prepareImage } from '../backbone/index.js';
import { readManifest } from '../backbone/manifest.js';
import { appError } from '../common/errors.js';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { json: { type: 'boolean', default: false }, top: { type: 'string', default: '5' } },
  });
  const top = Number(values.top);
  if (positionals.length !== 1 || !Number.isInteger(top) || top < 1) throw appError('USAGE', ['softpatch classify <image> [--top 5] [--json]']);
  const config = loadConfig();
  const manifest = await readManifest(config.backboneDir);
  const classifier = await loadClassifier(config.backboneDir, config.ortThreads);
  try {
    const image = await prepareImage(await fs.readFile(positionals[0]), { ...manifest.preprocessing, maxPixels: config.maxPixels });
    const classes = await classifier.classify(image, top);
    if (values.json) console.log(JSON.stringify({ image: positionals[0], top: classes }));
    else for (const c of classes) console.log(`${String(c.index).padStart(4)}  ${(100 * c.probability).toFixed(2).padStart(6)} %  ${c.label}`);
  } finally {
    await classifier.close();
  }
  return 0;
}
