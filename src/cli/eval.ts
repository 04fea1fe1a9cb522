/**
 * `softpatch eval`: accuracy on an MVTec-layout category under noisy training sets, with the
 * service's exact code path. Prints a table; `--json` writes every run; `--heatmaps` a contact sheet.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../common/config.js';
import { appError } from '../common/errors.js';
import { loadBackbone } from '../backbone/index.js';
import { DISCRIMINATORS, METHODS } from '../engine/index.js';
import type { GtRule } from '../eval/mvtec.js';
import { NOISE_MODES } from '../eval/noise.js';
import { runEvaluation, type EvalResult, type EvalRun } from '../eval/run.js';
import { colorScale } from '../render/heatmap.js';
import { renderContactSheet } from '../render/contact-sheet.js';
import { defineCommand, type CommandSpec, type ParsedArgs } from './args.js';


function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw appError('EVAL_INPUT', [`--${name} must be one of ${allowed.join(', ')}, got "${value}"`]);
  return value as T;
}

function num(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const v = Number(value);
  if (!Number.isFinite(v)) throw appError('EVAL_INPUT', [`--${name} must be a number, got "${value}"`]);
  return v;
}

const fmt = (v: number | null, d = 4): string => (v === null ? '—' : v.toFixed(d));

export function formatTable(runs: EvalRun[]): string {
  const head = '| category | method | noise | overlap | image AUROC | pixel AUROC | AUPRO | F1-max | F1 @thr | acc @thr | build s | infer ms/img |';
  const sep = '| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |';
  const rows = runs.map((r) => `| ${r.category} | ${r.method}${r.discriminator && r.discriminator !== 'lof' ? ` (${r.discriminator})` : ''} | ${r.noise} | ${r.overlap ? 'yes' : 'no'} | ${fmt(r.imageAuroc)} | ${fmt(r.pixelAuroc)} | ${fmt(r.aupro)} | ${fmt(r.f1Max)} | ${fmt(r.f1AtThreshold)} | ${fmt(r.accuracyAtThreshold)} | ${(r.buildMs / 1000).toFixed(1)} | ${r.inferMsPerImage.toFixed(0)} |`);
  return [head, sep, ...rows].join('\n');
}

async function writeContactSheet(result: EvalResult, file: string): Promise<void> {
  const cal = result.firstRunCalibration;
  if (!cal) return;
  // Up to 8 good and 16 defective test images, in test order.
  const good = result.firstRunImages.filter((s) => !s.item.anomalous).slice(0, 8);
  const bad = result.firstRunImages.filter((s) => s.item.anomalous).slice(0, 16);
  const tiles = await Promise.all([...good, ...bad].map(async (s) => ({
    imageBytes: await fs.readFile(s.item.path), map: s.map, mapW: result.mapSize.w, mapH: result.mapSize.h,
    geometry: s.geometry, label: s.item.name.replace(/^test\//, ''), anomalous: s.anomalous, score: s.score,
  })));
  const png = await renderContactSheet(tiles, { columns: 6, tileSize: 192, scale: colorScale(cal.pixelMedian, cal.threshold) });
  await fs.writeFile(file, png);
}

const spec = {
  summary: 'Accuracy on an MVTec-layout category under noisy training sets (defective test photos injected into training), with the service\'s own build and calibration code.',
  options: {
    data: { type: 'string', arg: 'root', description: 'folder of MVTec categories (or one category folder without --category); required' },
    category: { type: 'string', arg: 'name', description: 'category folder under --data' },
    noise: { type: 'string', default: '0.1', arg: 'list', description: 'comma-separated noise ratios' },
    overlap: { type: 'boolean', default: false, description: 'injected photos also stay in the test set' },
    'noise-mode': { type: 'string', default: 'cap', arg: NOISE_MODES.join('|'), description: 'how the noise ratio counts injected photos' },
    method: { type: 'string', default: 'softpatch', arg: 'list', description: `comma-separated methods: ${METHODS.join(', ')}` },
    discriminator: { type: 'string', default: 'lof', arg: DISCRIMINATORS.join('|'), description: 'noise discriminator of softpatch' },
    seed: { type: 'string', default: '0', arg: 'n', description: 'seed of the noise draw and the engine' },
    'coreset-ratio': { type: 'string', arg: 'ρ', description: 'memory rows per training patch (engine default 0.1)' },
    'lof-k': { type: 'string', arg: 'k', description: 'LOF neighbours (engine default 6)' },
    tau: { type: 'string', arg: 'τ', description: 'share of training patches removed (engine default 0.15)' },
    resize: { type: 'string', default: '256', arg: 'px|none', description: 'shorter side after resize' },
    crop: { type: 'string', default: '224', arg: 'px|none', description: 'centre crop' },
    'gt-rule': { type: 'string', default: 'official', arg: 'official|half', description: 'how ground-truth masks are binarised after resizing' },
    'limit-train': { type: 'string', arg: 'n', description: 'use only the first n training photos' },
    'limit-test': { type: 'string', arg: 'n', description: 'use only the first n test photos per defect type' },
    json: { type: 'string', arg: 'file', description: 'write every run as JSON' },
    heatmaps: { type: 'string', arg: 'file.png', description: 'write a contact sheet of the first run' },
    quiet: { type: 'boolean', default: false, description: 'no progress on stderr' },
  },
} as const satisfies CommandSpec;

async function run({ values }: ParsedArgs<typeof spec.options>): Promise<number> {
  if (!values.data) throw appError('EVAL_INPUT', ['--data <root> is required (a folder of MVTec categories, or a category folder with --category omitted)']);
  const root = values.category ? path.join(values.data, values.category) : values.data;
  const methods = values.method.split(',').map((m) => oneOf('method', m.trim(), METHODS));
  const noises = values.noise.split(',').map((n) => num('noise', n.trim()) as number);
  const engine = {
    ...(values['coreset-ratio'] !== undefined && { coresetRatio: num('coreset-ratio', values['coreset-ratio']) }),
    ...(values['lof-k'] !== undefined && { lofK: num('lof-k', values['lof-k']) }),
    ...(values.tau !== undefined && { removalQuantile: num('tau', values.tau) }),
  };
  const config = loadConfig();
  const backbone = await loadBackbone(config.backboneDir, { threads: config.ortThreads });
  let result: EvalResult;
  try {
    result = await runEvaluation(backbone, {
      root, noises, methods, overlap: values.overlap,
      noiseMode: oneOf('noise-mode', values['noise-mode'], NOISE_MODES),
      discriminator: oneOf('discriminator', values.discriminator, DISCRIMINATORS),
      seed: num('seed', values.seed) as number, engine,
      resize: values.resize === 'none' ? null : (num('resize', values.resize) as number),
      crop: values.crop === 'none' ? null : (num('crop', values.crop) as number),
      gtRule: oneOf<GtRule>('gt-rule', values['gt-rule'], ['official', 'half']),
      limitTrain: num('limit-train', values['limit-train']), limitTestPerType: num('limit-test', values['limit-test']),
      onProgress: values.quiet ? undefined : (m) => console.error(`[eval] ${m}`),
    });
  } finally {
    await backbone.close();
  }
  console.log(formatTable(result.runs));
  if (values.json) await fs.writeFile(values.json, `${JSON.stringify({ command: `softpatch eval ${process.argv.slice(3).join(' ')}`, runs: result.runs }, null, 2)}\n`);
  if (values.heatmaps) await writeContactSheet(result, values.heatmaps);
  return 0;
}

export const command = defineCommand(spec, run);
