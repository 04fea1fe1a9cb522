/** Scoring one image against a bank set (spec §6): patch and image scores, and the anomaly map. */
export {
  bankSearchIndexes,
  createBankSearchers,
  releaseBankSearchers,
  type BankSearchIndexes,
  imageScore,
  scorePatches,
  weightedScores,
  type BankSearchers,
  type ScoreOptions,
} from './score.js';
export { anomalyMap, decisionMap, gaussianBlur, gaussianKernel, resizeBilinear } from './map.js';
