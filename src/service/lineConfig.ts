/**
 * Per-line configuration: documented defaults (engine defaults from SOFTPATCH_SPEC.md plus the
 * service's own), merging of partial updates, and the mapping to the engine's configuration.
 */
import { appError } from '../common/errors.js';
import { DEFAULT_ENGINE_CONFIG, resolveEngineConfig } from '../engine/config.js';
import type { EngineConfig } from '../engine/types.js';
import type { CalibrationRecord, LineConfig, ThresholdConfig } from '../store/types.js';

/** k of the `auto` threshold m + k·s (guide §3). */
export const DEFAULT_SENSITIVITY = 3.5;

/**
 * Floor of the noise-report suspect rule (see `suspectImages`): a suspect lost more than this share
 * of its patches. Twice the default removal quantile τ = 0.15: clean images lose about 0.11 of
 * their patches on the reference run (spec §10), defective ones about half.
 */
export const DEFAULT_SUSPECT_SHARE = 0.3;

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
});

/** What a request may send: any subset, with `threshold` itself partial. */
export type LineConfigPatch = Partial<Omit<LineConfig, 'threshold'>> & { threshold?: Partial<ThresholdConfig> };

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
