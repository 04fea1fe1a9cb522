/**
 * `softpatch eval`: accuracy on an MVTec-layout category under noisy training sets, with the
 * service's exact code path. Prints a table; `--json` writes every run; `--heatmaps` a contact sheet.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../common/config.js';
import { appError } from '../common/errors.js';
import { ALIGNMENTS, loadBackbone, TRAIN_ROTATIONS } from '../backbone/index.js';
import {
  DISCRIMINATORS,
  METHODS,
  SUSPECT_EVIDENCE,
  SUSPECT_FENCES,
  SUSPECT_REBUILDS,
  THRESHOLD_RULES,
  type SuspectRebuild,
} from '../engine/index.js';
import { decisionRulesFor, DEFAULT_LINE_CONFIG } from '../service/line-config.js';
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

/** `learned`: a run of `trainRotations: "auto"` names what it learnt (runs of one setting share the summary's row). */
const turnsOf = (r: EvalRun, learned: boolean): string => {
  if (r.turns.reason !== 'set') return learned ? `turns auto: ${r.turns.learned}` : 'turns auto';
  return r.turns.learned !== 'none' ? `turns ${r.turns.learned}` : '';
};

const variantOf = (r: EvalRun, learned = true): string => {
  const parts = [
    r.discriminator && r.discriminator !== 'lof' ? r.discriminator : '',
    r.discriminatorWindow > 0 ? `window ${r.discriminatorWindow}` : '',
    turnsOf(r, learned),
    r.preprocess.align === 'axis' ? 'aligned' : '',
    r.preprocess.crop === null ? `whole ${r.preprocess.resize ?? 'orig'}` : `crop ${r.preprocess.resize}/${r.preprocess.crop}`,
    r.thresholdRule,
    r.suspectEvidence === 'removedShare' ? 'share' : 'score',
    r.suspectFence === 'gumbel' ? 'gumbel' : '',
    r.excludeSuspects ? `exclude${r.suspectRebuild === 'repair' ? ' (repair)' : ''}` : '',
  ].filter(Boolean);
  return `${r.method} (${parts.join(', ')})`;
};
const flagged = (r: EvalRun): string => (r.injectedCount ? `${r.injectedHits}/${r.injectedCount}` : '—');

export function formatTable(runs: EvalRun[]): string {
  const head =
    '| category | method | noise | overlap | seed | image AUROC | pixel AUROC | AUPRO | F1-max | F1 @thr | F1 ratio | acc @thr | thr | injected flagged | clean flagged | build s | infer ms/img |';
  const sep = '| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |';
  const rows = runs.map(
    (r) =>
      `| ${r.category} | ${variantOf(r)} | ${r.noise} | ${r.overlap ? 'yes' : 'no'} | ${r.seed} | ${fmt(r.imageAuroc)} | ${fmt(r.pixelAuroc)} | ${fmt(r.aupro)} | ${fmt(r.f1Max)} | ${fmt(r.f1AtThreshold)} | ${fmt(r.f1AtThreshold / r.f1Max, 3)} | ${fmt(r.accuracyAtThreshold)} | ${r.threshold.toFixed(1)} | ${flagged(r)} | ${r.cleanFlagged}/${r.cleanCount} | ${(r.buildMs / 1000).toFixed(1)} | ${r.inferMsPerImage.toFixed(0)} |`,
  );
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
    const key = `${variantOf(r, false)}|${r.noise}|${r.overlap ? 'yes' : 'no'}`;
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
  const tiles = await Promise.all(
    [...good, ...bad].map(async (s) => ({
      imageBytes: await fs.readFile(s.item.path),
      map: s.map,
      mapW: result.mapSize.w,
      mapH: result.mapSize.h,
      geometry: s.geometry,
      label: s.item.name.replace(/^test\//, ''),
      anomalous: s.anomalous,
      score: s.score,
    })),
  );
  const png = await renderContactSheet(tiles, { columns: 6, tileSize: 192, scale: colorScale(cal.pixelMedian, cal.threshold) });
  await fs.writeFile(file, png);
}

const spec = {
  summary:
    "Accuracy on an MVTec-layout category under noisy training sets (defective test photos injected into training), with the service's own build and calibration code.",
  options: {
    data: { type: 'string', arg: 'root', description: 'folder of MVTec categories (or one category folder without --category); required' },
    category: { type: 'string', arg: 'list', description: 'comma-separated category folders under --data (mean ± sd over them)' },
    noise: { type: 'string', default: '0.1', arg: 'list', description: 'comma-separated noise ratios' },
    overlap: { type: 'boolean', default: false, description: 'injected photos also stay in the test set' },
    'noise-mode': { type: 'string', default: 'cap', arg: NOISE_MODES.join('|'), description: 'how the noise ratio counts injected photos' },
    method: { type: 'string', default: 'softpatch', arg: 'list', description: `comma-separated methods: ${METHODS.join(', ')}` },
    discriminator: { type: 'string', default: 'lof', arg: DISCRIMINATORS.join('|'), description: 'noise discriminator of softpatch' },
    seeds: {
      type: 'string',
      default: '0',
      arg: 'list',
      description: 'comma-separated seeds of the noise draw and the engine (mean ± sd when several)',
    },
    'feature-cache': { type: 'string', arg: 'dir', description: 'cache the backbone features here and reuse them in later runs' },
    window: {
      type: 'string',
      arg: 'r',
      description: `discriminatorWindow: pose tolerance in patches (line default ${DEFAULT_LINE_CONFIG.discriminatorWindow})`,
    },
    'train-rotations': {
      type: 'string',
      default: DEFAULT_LINE_CONFIG.trainRotations,
      arg: TRAIN_ROTATIONS.join('|'),
      description:
        'trainRotations: training photos also turned by 180° or by every quarter turn; auto (the line default): by every quarter turn where the photos show the part at any angle',
    },
    align: {
      type: 'string',
      default: DEFAULT_LINE_CONFIG.align,
      arg: ALIGNMENTS.join('|'),
      description: "align: every photo turned onto its part's axis and centred (the line default)",
    },
    'threshold-rule': {
      type: 'string',
      arg: 'list',
      description: `threshold rules decided on each build: ${THRESHOLD_RULES.join(', ')} (line default ${DEFAULT_LINE_CONFIG.threshold.rule})`,
    },
    'suspect-evidence': {
      type: 'string',
      arg: 'list',
      description: `noise-report evidence decided on each build: ${SUSPECT_EVIDENCE.join(', ')} (line default ${DEFAULT_LINE_CONFIG.suspectEvidence})`,
    },
    'suspect-fence': {
      type: 'string',
      arg: 'list',
      description: `fence of the calibrationScore evidence decided on each build: ${SUSPECT_FENCES.join(', ')} (line default ${DEFAULT_LINE_CONFIG.suspectFence})`,
    },
    'exclude-suspects': {
      type: 'string',
      arg: 'list',
      description: `excludeSuspects decided on each build: off, on or off,on (line default ${DEFAULT_LINE_CONFIG.excludeSuspects ? 'on' : 'off'})`,
    },
    'suspect-rebuild': {
      type: 'string',
      arg: 'list',
      description: `how excludeSuspects chooses the bank again, decided on each build: ${SUSPECT_REBUILDS.join(', ')} (line default ${DEFAULT_LINE_CONFIG.suspectRebuild})`,
    },
    sensitivity: { type: 'string', arg: 'k', description: 'k of the fence rule (line default 3.5)' },
    'false-alarm-rate': { type: 'string', arg: 'α', description: 'α of the tail rule (line default 0.01)' },
    'suspect-share': { type: 'string', arg: 'share', description: 'floor of the removedShare evidence (line default 0.3)' },
    'coreset-ratio': { type: 'string', arg: 'ρ', description: 'memory rows per training patch (engine default 0.1)' },
    'lof-k': { type: 'string', arg: 'k', description: 'LOF neighbours (engine default 6)' },
    tau: { type: 'string', arg: 'τ', description: 'share of training patches removed (engine default 0.15)' },
    resize: {
      type: 'string',
      default: String(DEFAULT_LINE_CONFIG.resize ?? 'none'),
      arg: 'px|none',
      description: 'shorter side after resize (the line default)',
    },
    crop: {
      type: 'string',
      default: String(DEFAULT_LINE_CONFIG.crop ?? 'none'),
      arg: 'px|none',
      description: 'centre crop, none: the whole frame (the line default); the paper: --resize 256 --crop 224',
    },
    'gt-rule': {
      type: 'string',
      default: 'official',
      arg: 'official|half',
      description: 'how ground-truth masks are binarised after resizing',
    },
    'limit-train': { type: 'string', arg: 'n', description: 'use only the first n training photos' },
    'limit-test': { type: 'string', arg: 'n', description: 'use only the first n test photos per defect type' },
    json: { type: 'string', arg: 'file', description: 'write every run as JSON' },
    heatmaps: { type: 'string', arg: 'file.png', description: 'write a contact sheet of the first run' },
    quiet: { type: 'boolean', default: false, description: 'no progress on stderr' },
  },
} as const satisfies CommandSpec;

async function run({ values }: ParsedArgs<typeof spec.options>): Promise<number> {
  if (!values.data)
    throw appError('EVAL_INPUT', [
      '--data <root> is required (a folder of MVTec categories, or a category folder with --category omitted)',
    ]);
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
  const thresholdRules = (values['threshold-rule'] ?? lineRules.thresholdRule)
    .split(',')
    .map((v) => oneOf('threshold-rule', v.trim(), THRESHOLD_RULES));
  const evidences = (values['suspect-evidence'] ?? lineRules.suspectEvidence)
    .split(',')
    .map((v) => oneOf('suspect-evidence', v.trim(), SUSPECT_EVIDENCE));
  const excludes = (values['exclude-suspects'] ?? (lineRules.excludeSuspects ? 'on' : 'off'))
    .split(',')
    .map((v) => oneOf('exclude-suspects', v.trim(), ['off', 'on'] as const) === 'on');
  const rebuilds = (values['suspect-rebuild'] ?? lineRules.suspectRebuild)
    .split(',')
    .map((v) => oneOf('suspect-rebuild', v.trim(), SUSPECT_REBUILDS));
  // Without excludeSuspects nothing is chosen again: one run, whatever the rebuilds listed.
  const banks = excludes.flatMap((excludeSuspects): { excludeSuspects: boolean; suspectRebuild: SuspectRebuild }[] =>
    excludeSuspects
      ? rebuilds.map((suspectRebuild) => ({ excludeSuspects, suspectRebuild }))
      : [{ excludeSuspects, suspectRebuild: lineRules.suspectRebuild }],
  );
  const fences = (values['suspect-fence'] ?? lineRules.suspectFence)
    .split(',')
    .map((v) => oneOf('suspect-fence', v.trim(), SUSPECT_FENCES));
  const combos = thresholdRules.flatMap((thresholdRule) =>
    evidences.flatMap((suspectEvidence) =>
      fences.flatMap((suspectFence) => banks.map((bank) => ({ thresholdRule, suspectEvidence, suspectFence, ...bank }))),
    ),
  );
  const rules = combos.map((combo) => ({
    ...lineRules,
    ...combo,
    ...(values.sensitivity !== undefined && { sensitivity: num('sensitivity', values.sensitivity) as number }),
    ...(values['false-alarm-rate'] !== undefined && { falseAlarmRate: num('false-alarm-rate', values['false-alarm-rate']) as number }),
    ...(values['suspect-share'] !== undefined && { suspectShare: num('suspect-share', values['suspect-share']) as number }),
  }));
  const config = loadConfig();
  const backbone = await loadBackbone(config.backboneDir, { threads: config.ortThreads });
  const results: EvalResult[] = [];
  try {
    for (const root of roots) {
      results.push(
        await runEvaluation(backbone, {
          root,
          noises,
          methods,
          overlap: values.overlap,
          noiseMode: oneOf('noise-mode', values['noise-mode'], NOISE_MODES),
          discriminator: oneOf('discriminator', values.discriminator, DISCRIMINATORS),
          seeds,
          engine,
          rules,
          resize: values.resize === 'none' ? null : (num('resize', values.resize) as number),
          crop: values.crop === 'none' ? null : (num('crop', values.crop) as number),
          trainRotations: oneOf('train-rotations', values['train-rotations'], TRAIN_ROTATIONS),
          align: oneOf('align', values.align, ALIGNMENTS),
          gtRule: oneOf<GtRule>('gt-rule', values['gt-rule'], ['official', 'half']),
          limitTrain: num('limit-train', values['limit-train']),
          limitTestPerType: num('limit-test', values['limit-test']),
          featureCache: values['feature-cache'],
          onProgress: values.quiet ? undefined : (m) => console.error(`[eval] ${m}`),
        }),
      );
    }
  } finally {
    await backbone.close();
  }
  const runs = results.flatMap((r) => r.runs);
  console.log(formatTable(runs));
  if (roots.length > 1 || seeds.length > 1)
    console.log(
      `\nmean ± sd over ${roots.length} categor${roots.length > 1 ? 'ies' : 'y'} × ${seeds.length} seed(s):\n\n${formatSummary(runs)}`,
    );
  if (values.json)
    await fs.writeFile(values.json, `${JSON.stringify({ command: `softpatch eval ${process.argv.slice(3).join(' ')}`, runs }, null, 2)}\n`);
  if (values.heatmaps) await writeContactSheet(results[0], values.heatmaps);
  return 0;
}

export const command = defineCommand(spec, run);
