import fs from 'node:fs/promises';
import { loadConfig } from '../common/config.js';
import { loadBackbone, prepareImage } from '../backbone/index.js';
import { defineCommand, type CommandSpec, type ParsedArgs } from './args.js';

const spec = {
  synopsis: '<image>',
  summary: 'Embed one image with the backbone: patch grid, feature dimension, milliseconds.',
  options: { json: { type: 'boolean', default: false, description: 'print one JSON object' } },
  positionals: { min: 1, max: 1 },
} as const satisfies CommandSpec;

async function run({ values, positionals }: ParsedArgs<typeof spec.options>): Promise<number> {
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
      image: positionals[0],
      backbone: backbone.id,
      grid: f.grid,
      patches: f.grid.h * f.grid.w,
      dim: f.dim,
      geometry: image.geometry,
      ms: { preprocess: +(t1 - t0).toFixed(1), backbone: +(t2 - t1).toFixed(1) },
    };
    if (values.json) console.log(JSON.stringify(report));
    else
      console.log(
        `${report.image}: grid ${f.grid.h}×${f.grid.w} = ${report.patches} patches × ${f.dim} dims; preprocess ${report.ms.preprocess} ms, backbone ${report.ms.backbone} ms`,
      );
  } finally {
    await backbone.close();
  }
  return 0;
}

export const command = defineCommand(spec, run);
