/**
 * Label-free decisions (guide §3, §2.4): the threshold from leave-one-image-out scores and the noise
 * report's suspect rule.
 */
export {
  calibrate,
  calibrateFrom,
  decide,
  DEFAULT_FALSE_ALARM_RATE,
  SPEC_DECISION_RULES,
  THRESHOLD_RULES,
  type Calibration,
  type CalibrationInput,
  type Decision,
  type DecisionRules,
  type ThresholdRule,
} from './threshold.js';
export { DEFAULT_SENSITIVITY, robustSpread, thresholdFrom } from './fence.js';
export { BOOTSTRAP_RESAMPLES, fitGumbel, gumbelQuantile, tailThreshold, type GumbelFit, type TailThreshold } from './tail.js';
export {
  DEFAULT_SUSPECT_SHARE,
  SUSPECT_EVIDENCE,
  SUSPECT_FENCE_K,
  SUSPECT_FENCES,
  suspectImages,
  suspectReport,
  type SuspectEvidence,
  type SuspectFence,
  type SuspectReport,
} from './suspects.js';
export { bestF1Threshold, pointAt, recallThreshold, type LabelledScores, type ThresholdPoint } from './labelled.js';
export { scoreLeaveOneOut, type LeaveOneOutInput, type LeaveOneOutScores } from './leave-one-out.js';
