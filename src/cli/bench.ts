/** `softpatch bench backbone|engine|service|soak`: measurements printed as one JSON object. */
import path from 'node:path';
import { loadConfig, PROJECT_ROOT } from '../common/config.js';
import { computeGeometry, loadBackbone } from '../backbone/index.js';
import type { PreparedImage } from '../backbone/types.js';
import { appError } from '../common/errors.js';
import { median } from '../common/stats.js';
import { defineCommand, type CommandSpec, type ParsedArgs } from './args.js';
import { benchEngine, ENGINE_FEATURES, type EngineFeatures } from './bench-engine.js';

function syntheticImage(size: number, seed: number): PreparedImage {
  const data = new Float32Array(3 * size * size);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s >>> 24;
  }
  const g = computeGeometry(size, size, { resize: null, crop: null });
  return { data, width: size, height: size, geometry: g };
}

async function benchBackbone(runs: number): Promise<Record<string, unknown>> {
  const config = loadConfig();
  const results: Array<{ threads: number; batch: number; msPerImage: number }> = [];
  for (const threads of [1, 2]) {
    const backbone = await loadBackbone(config.backboneDir, { threads, maxBatch: 8 });
    try {
      for (const batch of [1, 8]) {
        const images = Array.from({ length: batch }, (_, i) => syntheticImage(224, i + 1));
        await backbone.embed(images); // warm-up
        const times: number[] = [];
        for (let r = 0; r < runs; r++) {
          const t = performance.now();
          await backbone.embed(images);
          times.push((performance.now() - t) / batch);
        }
        results.push({ threads, batch, msPerImage: +median(times).toFixed(2) });
      }
    } finally {
      await backbone.close();
    }
  }
  return { benchmark: 'backbone', backbone: config.backboneDir, input: '224x224', runs, statistic: 'median', results };
}

const spec = {
  synopsis: 'backbone|engine|service|soak',
  summary:
    'Measurements, printed as one JSON object. backbone: ms per 224×224 image at 1 and 2 threads, batch 1 and 8. engine: discrimination, coreset and search on the features of real photos (the shared bottle set, else generated ones) or on seeded synthetic features. service: the real service in a child process (build, inspections, load, RSS; progress on stderr). soak: the whole service on loopback, errors, latency and RSS drift.',
  options: {
    json: { type: 'boolean', default: false, description: 'one line of JSON instead of indented' },
    runs: { type: 'string', default: '10', arg: 'n', description: 'backbone: timed runs per setting' },
    images: { type: 'string', default: '200', arg: 'n', description: 'engine, service: training images' },
    features: {
      type: 'string',
      default: 'real',
      arg: ENGINE_FEATURES.join('|'),
      description: 'engine: features of photos through the backbone, or seeded synthetic ones',
    },
    patches: { type: 'string', default: '784', arg: 'n', description: 'engine, synthetic features: patches per image' },
    dim: { type: 'string', default: '1024', arg: 'n', description: 'engine, synthetic features: feature dimension' },
    seed: { type: 'string', default: '0', arg: 'n', description: 'engine: seed of the synthetic data' },
    ratio: { type: 'string', default: '0.1', arg: 'ρ', description: 'engine: coreset ratio' },
    clients: { type: 'string', default: '4', arg: 'n', description: 'service, soak: concurrent clients (soak: at most 64)' },
    seconds: {
      type: 'string',
      arg: 's',
      description: 'service: length of the load (default 15); soak: duration (default 60, at most 3600)',
    },
    inspections: { type: 'string', default: '15', arg: 'n', description: 'service: sequential inspections timed per endpoint' },
    data: {
      type: 'string',
      default: path.join(PROJECT_ROOT, '..', 'shared', 'data', 'mvtec_ad'),
      arg: 'dir',
      description: 'service, engine: MVTec root (its bottle photos are used; generated images when absent)',
    },
    warmup: { type: 'string', arg: 's', description: 'soak: seconds left out of the figures (default: min(30, seconds / 4))' },
    'line-config': {
      type: 'string',
      arg: 'json',
      description: 'service: settings of the bench line, as in POST /v1/lines (e.g. \'{"excludeSuspects":false}\'; default: the defaults)',
    },
  },
  positionals: { min: 1, max: 1 },
} as const satisfies CommandSpec;

function parseLineConfig(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw appError('USAGE', [`--line-config must be a JSON object, not ${JSON.stringify(text)}`]);
}

async function run({ values, positionals }: ParsedArgs<typeof spec.options>): Promise<number> {
  let report: Record<string, unknown>;
  switch (positionals[0]) {
    case 'backbone':
      report = await benchBackbone(Number(values.runs));
      break;
    case 'engine': {
      const features = values.features;
      if (!(ENGINE_FEATURES as readonly string[]).includes(features)) {
        throw appError('USAGE', [`--features must be one of ${ENGINE_FEATURES.join(', ')}, not ${JSON.stringify(features)}`]);
      }
      report = await benchEngine({
        features: features as EngineFeatures,
        data: values.data,
        images: Number(values.images),
        patches: Number(values.patches),
        dim: Number(values.dim),
        seed: Number(values.seed),
        ratio: Number(values.ratio),
      });
      break;
    }
    case 'service': {
      const { benchService } = await import('./bench-service.js');
      report = await benchService({
        images: Number(values.images),
        clients: Number(values.clients),
        seconds: Number(values.seconds ?? 15),
        inspections: Number(values.inspections),
        data: values.data,
        lineConfig: parseLineConfig(values['line-config']),
      });
      break;
    }
    case 'soak': {
      const { benchSoak } = await import('./bench-soak.js');
      const seconds = Number(values.seconds ?? 60);
      report = await benchSoak({
        seconds,
        clients: Number(values.clients),
        warmup: values.warmup === undefined ? Math.min(30, seconds / 4) : Number(values.warmup),
      });
      break;
    }
    default:
      throw appError('USAGE', [`unknown benchmark "${positionals[0]}": softpatch bench backbone|engine|service|soak`]);
  }
  console.log(JSON.stringify(report, null, values.json ? 0 : 2));
  return 0;
}

export const command = defineCommand(spec, run);
