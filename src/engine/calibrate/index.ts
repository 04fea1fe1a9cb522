/** Label-free decisions (guide §3, §2.4): the threshold from leave-one-image-out scores and the noise report's suspect rule. */
export { calibrate, DEFAULT_SENSITIVITY, robustSpread, thresholdFrom, type Calibration, type CalibrationInput } from './threshold.js';
export { DEFAULT_SUSPECT_SHARE, SUSPECT_FENCE_K, suspectImages } from './suspects.js';
export { bestF1Threshold, pointAt, recallThreshold, type LabelledScores, type ThresholdPoint } from './labelled.js';
