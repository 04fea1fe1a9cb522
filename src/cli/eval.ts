/**
 * `softpatch eval`: accuracy on an MVTec-layout category under noisy training sets, with the
 * service's exact code path. Prints a table; `--json` writes every run; `--heatmaps` a contact sheet.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../common/config.js';
import { appError } from '../common/errors.js';
import { loadBackbone } from '../backbone/index.js';
import type { DiscriminatorName, Method, SuspectEvidence, ThresholdRule } from '../engine/index.js';
import { decisionRulesFor, DEFAULT_LINE_CONFIG } from '../service/line-config.js';
import type { GtRule } from '../eval/mvtec.js';
import type { NoiseMode } from '../eval/noise.js';
import { runEvaluation, type EvalResult, type EvalRun } from '../eval/run.js';
import { colorScale } from '../render/heatmap.js';
import { renderContactSheet } from '../render/contact-sheet.js';

const METHODS: readonly Method[] = ['patchcore', 'softpatch', 'softpatch+'];
const DISCRIMINATORS: readonly DiscriminatorName[] = ['lof', 'nearest', 'gaussian'];
const THRESHOLD_RULES: readonly ThresholdRule[] = ['fence', 'tail'];
const SUSPECT_EVIDENCE: readonly SuspectEvidence[] = ['removedShare', 'calibrationScore'];
const NOISE_MODES: readonly NoiseMode[] = ['ratioOfClean', 'cap', 'ratioOfFinal'];

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

const variantOf = (r: EvalRun): string => {
  const parts = [
    r.discriminator && r.discriminator !== 'lof' ? r.discriminator : '',
    r.discriminatorWindow > 0 ? `window ${r.discriminatorWindow}` : '',
    r.preprocess.crop === null ? `whole ${r.preprocess.resize ?? 'orig'}` : `crop ${r.preprocess.resize}/${r.preprocess.crop}`,
    r.thresholdRule, r.suspectEvidence === 'removedShare' ? 'share' : 'score',
  ].filter(Boolean);
  return `${r.method} (${parts.join(', ')})`;
};
const flagged = (r: EvalRun): string => (r.injectedCount ? `${r.injectedHits}/${r.injectedCount}` : '—');

export function formatTable(runs: EvalRun[]): string {
  const head = '| category | method | noise | overlap | seed | image AUROC | pixel AUROC | AUPRO | F1-max | F1 @thr | F1 ratio | acc @thr | thr | injected flagged | clean flagged | build s | infer ms/img |';
  const sep = '| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |';
  const rows = runs.map((r) => `| ${r.category} | ${variantOf(r)} | ${r.noise} | ${r.overlap ? 'yes' : 'no'} | ${r.seed} | ${fmt(r.imageAuroc)} | ${fmt(r.pixelAuroc)} | ${fmt(r.aupro)} | ${fmt(r.f1Max)} | ${fmt(r.f1AtThreshold)} | ${fmt(r.f1AtThreshold / r.f1Max, 3)} | ${fmt(r.accuracyAtThreshold)} | ${r.threshold.toFixed(1)} | ${flagged(r)} | ${r.cleanFlagged}/${r.cleanCount} | ${(r.buildMs / 1000).toFixed(1)} | ${r.inferMsPerImage.toFixed(0)} |`);
  return [head, sep, ...rows].join('\n');
}

const SUMMARY_METRICS: readonly [string, (r: EvalRun) => number | null][] = [
  ['image AUROC', (r) => r.imageAuroc],
  ['pixel AUROC', (r) => r.pixelAuroc],
  ['F1 @thr', (r) => r.f1AtThreshold],
  ['F1 ratio', (r) => r.f1AtThreshold / r.f1Max],
  ['acc @thr', (r) => r.accuracyAtThreshold],
  ['injected flagged share', (r) => r.injectedFlagged],
  ['clean flagged share', (r) => r.cleanFlagged / r.cleanCount],
];

/** Mean ± sample standard deviation over every run of a method and noise level (categories × seeds). */
export function formatSummary(runs: EvalRun[]): string {
  const groups = new Map<string, EvalRun[]>();
  for (const r of runs) {
    const key = `${variantOf(r)}|${r.noise}|${r.overlap ? 'yes' : 'no'}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const head = `| method | noise | overlap | runs | ${SUMMARY_METRICS.map(([n]) => n).join(' | ')} |`;
  const sep = `| --- | ---: | --- | ---: | ${SUMMARY_METRICS.map(() => '---:').join(' | ')} |`;
  const rows = [...groups].map(([key, rs]) => {
    const [variant, noise, overlap] = key.split('|');
    const cells = SUMMARY_METRICS.map(([, get]) => {
      const v = rs.map(get).filter((x): x is number => x !== null && Number.isFinite(x));
      if (v.length === 0) return '—';
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const sd = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : 0;
      return v.length > 1 ? `${mean.toFixed(4)} ± ${sd.toFixed(4)}` : mean.toFixed(4);
    });
    return `| ${variant} | ${noise} | ${overlap} | ${rs.length} | ${cells.join(' | ')} |`;
  });
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

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string' }, category: { type: 'string' }, noise: { type: 'string', default: '0.1' },
      overlap: { type: 'boolean', default: false }, 'noise-mode': { type: 'string', default: 'cap' },
      method: { type: 'string', default: 'softpatch' }, discriminator: { type: 'string', default: 'lof' },
      seeds: { type: 'string', default: '0' }, 'feature-cache': { type: 'string' }, json: { type: 'string' }, heatmaps: { type: 'string' },
      'coreset-ratio': { type: 'string' }, 'lof-k': { type: 'string' }, tau: { type: 'string' },
      resize: { type: 'string', default: String(DEFAULT_LINE_CONFIG.resize ?? 'none') }, crop: { type: 'string', default: String(DEFAULT_LINE_CONFIG.crop ?? 'none') }, 'gt-rule': { type: 'string', default: 'official' },
      window: { type: 'string' }, 'threshold-rule': { type: 'string' }, 'suspect-evidence': { type: 'string' },
      sensitivity: { type: 'string' }, 'false-alarm-rate': { type: 'string' }, 'suspect-share': { type: 'string' },
      'limit-train': { type: 'string' }, 'limit-test': { type: 'string' }, quiet: { type: 'boolean', default: false },
    },
  });
  if (!values.data) throw appError('EVAL_INPUT', ['--data <root> is required (a folder of MVTec categories, or a category folder with --category omitted)']);
  const roots = values.category ? values.category.split(',').map((c) => path.join(values.data as string, c.trim())) : [values.data];
  const seeds = values.seeds.split(',').map((v) => num('seeds', v.trim()) as number);
  const methods = values.method.split(',').map((m) => oneOf('method', m.trim(), METHODS));
  const noises = values.noise.split(',').map((n) => num('noise', n.trim()) as number);
  const engine = {
    ...(values['coreset-ratio'] !== undefined && { coresetRatio: num('coreset-ratio', values['coreset-ratio']) }),
    ...(values['lof-k'] !== undefined && { lofK: num('lof-k', values['lof-k']) }),
    ...(values.tau !== undefined && { removalQuantile: num('tau', values.tau) }),
    discriminatorWindow: values.window === undefined ? DEFAULT_LINE_CONFIG.discriminatorWindow : (num('window', values.window) as number),
  };
  // Every combination of the listed rules is decided on each build (no rebuild per rule).
  const lineRules = decisionRulesFor(DEFAULT_LINE_CONFIG);
  const thresholdRules = (values['threshold-rule'] ?? lineRules.thresholdRule).split(',').map((v) => oneOf('threshold-rule', v.trim(), THRESHOLD_RULES));
  const evidences = (values['suspect-evidence'] ?? lineRules.suspectEvidence).split(',').map((v) => oneOf('suspect-evidence', v.trim(), SUSPECT_EVIDENCE));
  const rules = thresholdRules.flatMap((thresholdRule) => evidences.map((suspectEvidence) => ({
    ...lineRules, thresholdRule, suspectEvidence,
    ...(values.sensitivity !== undefined && { sensitivity: num('sensitivity', values.sensitivity) as number }),
    ...(values['false-alarm-rate'] !== undefined && { falseAlarmRate: num('false-alarm-rate', values['false-alarm-rate']) as number }),
    ...(values['suspect-share'] !== undefined && { suspectShare: num('suspect-share', values['suspect-share']) as number }),
  })));
  const config = loadConfig();
  const backbone = await loadBackbone(config.backboneDir, { threads: config.ortThreads });
  const results: EvalResult[] = [];
  try {
    for (const root of roots) {
      results.push(await runEvaluation(backbone, {
        root, noises, methods, overlap: values.overlap,
        noiseMode: oneOf('noise-mode', values['noise-mode'], NOISE_MODES),
        discriminator: oneOf('discriminator', values.discriminator, DISCRIMINATORS),
        seeds, engine, rules,
        resize: values.resize === 'none' ? null : (num('resize', values.resize) as number),
        crop: values.crop === 'none' ? null : (num('crop', values.crop) as number),
        gtRule: oneOf<GtRule>('gt-rule', values['gt-rule'], ['official', 'half']),
        limitTrain: num('limit-train', values['limit-train']), limitTestPerType: num('limit-test', values['limit-test']),
        featureCache: values['feature-cache'],
        onProgress: values.quiet ? undefined : (m) => console.error(`[eval] ${m}`),
      }));
    }
  } finally {
    await backbone.close();
  }
  const runs = results.flatMap((r) => r.runs);
  console.log(formatTable(runs));
  if (roots.length > 1 || seeds.length > 1) console.log(`\nmean ± sd over ${roots.length} categor${roots.length > 1 ? 'ies' : 'y'} × ${seeds.length} seed(s):\n\n${formatSummary(runs)}`);
  if (values.json) await fs.writeFile(values.json, `${JSON.stringify({ command: `softpatch eval ${argv.join(' ')}`, runs }, null, 2)}\n`);
  if (values.heatmaps) await writeContactSheet(results[0], values.heatmaps);
  return 0;
}
