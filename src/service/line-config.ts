/**
 * Per-line configuration: documented defaults (engine defaults from SOFTPATCH_SPEC.md plus the
 * service's own), merging of partial updates, and the mapping to the engine's configuration.
 */
import { appError } from '../common/errors.js';
import { DEFAULT_ENGINE_CONFIG, DEFAULT_SENSITIVITY, DEFAULT_SUSPECT_SHARE, resolveEngineConfig, type EngineConfig } from '../engine/index.js';
import type { CalibrationRecord, LineConfig, LineConfigPatch, ThresholdConfig } from '../store/types.js';

export const DEFAULT_LINE_CONFIG: Readonly<LineConfig> = Object.freeze({
  method: DEFAULT_ENGINE_CONFIG.method,
  discriminator: DEFAULT_ENGINE_CONFIG.discriminator,
  lofK: DEFAULT_ENGINE_CONFIG.lofK,
  removalQuantile: DEFAULT_ENGINE_CONFIG.removalQuantile,
  coresetRatio: DEFAULT_ENGINE_CONFIG.coresetRatio,
  resize: 256,
  crop: 224,
  threshold: Object.freeze({ policy: 'auto', sensitivity: DEFAULT_SENSITIVITY }) as ThresholdConfig,
  suspectShare: DEFAULT_SUSPECT_SHARE,
  trainImages: null,
  keepBanks: 10,
  pruneImages: false,
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
  const merged: LineConfig = { ...base, ...rest, threshold: { ...base.threshold, ...threshold } };
  if (merged.threshold.policy === 'fixed' && merged.threshold.value === undefined) {
    throw appError('VALIDATION_FAILED', ['threshold.policy "fixed" needs threshold.value']);
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
    removalQuantile: config.removalQuantile,
    coresetRatio: config.coresetRatio,
  });
}

/** The decision threshold of one request: `?threshold=` > the line's `fixed` value > the bank's m + k·s with the line's k. */
export function effectiveThreshold(calibration: CalibrationRecord, line: LineConfig, override?: number): number {
  if (override !== undefined) return override;
  if (line.threshold.policy === 'fixed' && line.threshold.value !== undefined) return line.threshold.value;
  return calibration.median + line.threshold.sensitivity * calibration.spread;
}
