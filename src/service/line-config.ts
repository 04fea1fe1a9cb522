/**
 * Per-line configuration: documented defaults (engine defaults from SOFTPATCH_SPEC.md plus the
 * service's own), merging of partial updates, and the mapping to the engine's configuration.
 */
import { appError } from '../common/errors.js';
import {
  bestF1Threshold,
  DEFAULT_ENGINE_CONFIG,
  DEFAULT_FALSE_ALARM_RATE,
  DEFAULT_SENSITIVITY,
  DEFAULT_SUSPECT_SHARE,
  gumbelQuantile,
  recallThreshold,
  resolveEngineConfig,
  type DecisionRules,
  type EngineConfig,
  type LabelledScores,
} from '../engine/index.js';
import type { CalibrationRecord, EvaluationScore, LineConfig, LineConfigPatch, ThresholdConfig } from '../store/types.js';

/** Policy `validation` without a target: the best-F1 threshold; with target `recall`: 0.99 unless given. */
const DEFAULT_VALIDATION_RECALL = 0.99;

export const DEFAULT_LINE_CONFIG: Readonly<LineConfig> = Object.freeze({
  method: DEFAULT_ENGINE_CONFIG.method,
  discriminator: DEFAULT_ENGINE_CONFIG.discriminator,
  lofK: DEFAULT_ENGINE_CONFIG.lofK,
  discriminatorWindow: DEFAULT_ENGINE_CONFIG.discriminatorWindow,
  // The photos say whether their parts lie at any angle (backbone/orientation.ts): only then are
  // turned views learnt, so a part placed the wrong way round stays a defect on a line whose photos
  // show it one way (docs/BENCHMARKS.md, issue 15).
  trainRotations: 'auto',
  // Likewise: an aligned part can no longer be told from one turned the wrong way.
  align: 'none',
  removalQuantile: DEFAULT_ENGINE_CONFIG.removalQuantile,
  coresetRatio: DEFAULT_ENGINE_CONFIG.coresetRatio,
  // The whole frame at the backbone's input scale (issue 15): a centre crop never looks at the
  // border, and on a wide photo at most of it. `resize: 256, crop: 224` is the paper's setting.
  resize: 224,
  crop: null,
  threshold: Object.freeze({
    policy: 'auto',
    sensitivity: DEFAULT_SENSITIVITY,
    rule: 'fence',
    falseAlarmRate: DEFAULT_FALSE_ALARM_RATE,
  }) as ThresholdConfig,
  suspectShare: DEFAULT_SUSPECT_SHARE,
  trainImages: null,
  keepBanks: 10,
  pruneImages: false,
  // The leave-one-out score sees the small defects that the removed share misses (docs/BENCHMARKS.md).
  suspectEvidence: 'calibrationScore',
  // One clean photo expected among the suspects of a build, and the suspects' patches out of the
  // bank (docs/BENCHMARKS.md, issue 15).
  suspectFence: 'gumbel',
  excludeSuspects: true,
  // As accurate as a second coreset (screw, seeds 0–2; bottle), at a tenth of its time (docs/BENCHMARKS.md).
  suspectRebuild: 'repair',
});

/** A stored line's settings with the defaults of fields added since it was written. */
export function withDefaults(config: LineConfig): LineConfig {
  return { ...DEFAULT_LINE_CONFIG, ...config };
}

/** What a request may send: any subset, with `threshold` itself partial. */
export type { LineConfigPatch };

/** Applies a partial update and checks the rules the schema cannot express. */
export function mergeLineConfig(base: Readonly<LineConfig>, patch: LineConfigPatch | undefined): LineConfig {
  const { threshold, ...rest } = patch ?? {};
  // Defaults first: a line stored before a setting existed gets that setting's default.
  const merged: LineConfig = {
    ...DEFAULT_LINE_CONFIG,
    ...base,
    ...rest,
    threshold: { ...DEFAULT_LINE_CONFIG.threshold, ...base.threshold, ...threshold },
  };
  if (merged.threshold.policy === 'fixed' && merged.threshold.value === undefined) {
    throw appError('VALIDATION_FAILED', ['threshold.policy "fixed" needs threshold.value']);
  }
  if (merged.threshold.policy === 'validation') {
    merged.threshold.target ??= 'f1';
    if (merged.threshold.target === 'recall') merged.threshold.recall ??= DEFAULT_VALIDATION_RECALL;
  }
  if (merged.align === 'axis' && merged.trainRotations !== 'none' && merged.trainRotations !== 'auto') {
    // Every aligned photo shows the part the same way: turned views would teach poses no inspection sees.
    throw appError('VALIDATION_FAILED', [`align "axis" and trainRotations "${merged.trainRotations}" exclude each other`]);
  }
  if (merged.crop !== null && merged.resize !== null && merged.crop > merged.resize) {
    throw appError('VALIDATION_FAILED', [`crop ${merged.crop} is larger than resize ${merged.resize}`]);
  }
  return merged;
}

/** The engine configuration of a build with these line settings. */
export function engineConfigFor(config: LineConfig): EngineConfig {
  return resolveEngineConfig({
    method: config.method,
    discriminator: config.discriminator,
    lofK: config.lofK,
    discriminatorWindow: config.discriminatorWindow,
    removalQuantile: config.removalQuantile,
    coresetRatio: config.coresetRatio,
  });
}

/** The build's label-free decision rules from these line settings. */
export function decisionRulesFor(config: LineConfig): DecisionRules {
  return {
    thresholdRule: config.threshold.rule,
    sensitivity: config.threshold.sensitivity,
    falseAlarmRate: config.threshold.falseAlarmRate,
    suspectEvidence: config.suspectEvidence,
    suspectFence: config.suspectFence,
    suspectShare: config.suspectShare,
    excludeSuspects: config.excludeSuspects,
    suspectRebuild: config.suspectRebuild,
  };
}

export function labelled(scores: readonly EvaluationScore[]): LabelledScores {
  return { scores: scores.map((s) => s.score), defective: scores.map((s) => s.label === 'defective') };
}

/** Policy `validation`: the threshold chosen on the bank's scores of the validation photos. */
export function validationThreshold(scores: readonly EvaluationScore[], threshold: ThresholdConfig): number {
  const data = labelled(scores);
  return threshold.target === 'recall'
    ? recallThreshold(data, threshold.recall ?? DEFAULT_VALIDATION_RECALL).threshold
    : bestF1Threshold(data).threshold;
}

/**
 * The decision threshold of one request: `?threshold=` > the line's `fixed` value > policy
 * `validation` on the bank's validation scores (`evaluation`, required for that policy) > the
 * bank's calibration by the line's rule: `tail` the fitted Gumbel at the line's false-alarm rate,
 * `fence` m + k·s with the line's k (also for banks built before the tail was recorded).
 */
export function effectiveThreshold(
  calibration: CalibrationRecord,
  line: LineConfig,
  override?: number,
  evaluation?: readonly EvaluationScore[],
): number {
  if (override !== undefined) return override;
  if (line.threshold.policy === 'fixed' && line.threshold.value !== undefined) return line.threshold.value;
  if (line.threshold.policy === 'validation') {
    if (!evaluation) throw appError('INTERNAL', ['policy "validation" without the bank\'s evaluation']);
    return validationThreshold(evaluation, line.threshold);
  }
  if (line.threshold.rule === 'tail' && calibration.tail) return gumbelQuantile(calibration.tail, line.threshold.falseAlarmRate);
  return calibration.median + line.threshold.sensitivity * calibration.spread;
}
