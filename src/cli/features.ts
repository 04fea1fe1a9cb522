import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { loadConfig } from '../common/config.js';
import { loadBackbone, prepareImage } from '../backbone/index.js';
import { appError } from '../common/errors.js';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
  if (positionals.length !== 1) throw appError('USAGE', ['softpatch features <image> [--json]']);
  const config = loadConfig();
  const backbone = await loadBackbone(config.backboneDir, { threads: config.ortThreads });
  try {
    const bytes = await fs.readFile(positionals[0]);
    const t0 = performance.now();
    const image = await prepareImage(bytes, { ...backbone.manifest.preprocessing, maxPixels: config.maxPixels });
    const t1 = performance.now();
    const [f] = await backbone.embed([image]);
    const t2 = performance.now();
    const report = {
      image: positionals[0], backbone: backbone.id, grid: f.grid, patches: f.grid.h * f.grid.w, dim: f.dim,
      geometry: image.geometry, ms: { preprocess: +(t1 - t0).toFixed(1), backbone: +(t2 - t1).toFixed(1) },
    };
    if (values.json) console.log(JSON.stringify(report));
    else console.log(`${report.image}: grid ${f.grid.h}×${f.grid.w} = ${report.patches} patches × ${f.dim} dims; preprocess ${report.ms.preprocess} ms, backbone ${report.ms.backbone} ms`);
  } finally {
    await backbone.close();
  }
  return 0;
}
