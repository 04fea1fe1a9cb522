/**
 * The engine's only import surface for the rest of the product (enforced by a lint rule): build a
 * bank set from training features, score test patches against it, calibrate the decision. The
 * sub-systems are also exported as namespaces for benchmarks.
 */
export type * from './types.js';
export { DISCRIMINATORS, METHODS, SUSPECT_REBUILDS } from './types.js';
export { DEFAULT_ENGINE_CONFIG, resolveEngineConfig, type DeepPartial } from './config.js';
export { buildBankSet, estimateBuildBytes, type BuildHooks } from './build.js';
export { featuresInMemory } from './features.js';
export { createRng, type Rng } from './kernels/index.js';
export {
  anomalyMap,
  bankSearchIndexes,
  createBankSearchers,
  decisionMap,
  imageScore,
  releaseBankSearchers,
  scorePatches,
  type BankSearchers,
  type BankSearchIndexes,
} from './score/index.js';
export {
  calibrate,
  calibrateFrom,
  decide,
  DEFAULT_FALSE_ALARM_RATE,
  DEFAULT_SENSITIVITY,
  DEFAULT_SUSPECT_SHARE,
  gumbelQuantile,
  robustSpread,
  scoreLeaveOneOut,
  SPEC_DECISION_RULES,
  SUSPECT_EVIDENCE,
  SUSPECT_FENCE_K,
  SUSPECT_FENCES,
  suspectImages,
  suspectReport,
  THRESHOLD_RULES,
  thresholdFrom,
  type Calibration,
  type CalibrationInput,
  type LeaveOneOutScores,
  type Decision,
  type DecisionRules,
  type SuspectEvidence,
  type SuspectFence,
  type SuspectReport,
  type TailThreshold,
  type ThresholdRule,
} from './calibrate/index.js';
export { bestF1Threshold, pointAt, recallThreshold, type LabelledScores, type ThresholdPoint } from './calibrate/index.js';
export type { FastIndexData } from './search/index.js';
export * as kernels from './kernels/index.js';
export * as denoise from './denoise/index.js';
export * as coreset from './coreset/index.js';
export * as search from './search/index.js';
