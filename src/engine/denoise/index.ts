/** Patch-level noise discrimination (spec §4): per-position discriminators, SoftPatch+ fusion, removal and soft weights. */
export { discriminate, gatherPosition, PositionDiscriminator, type DiscriminatorOptions, type PatchSet } from './discriminators.js';
export { discriminateReference, gaussianReference, lofReference, nearestReference } from './discriminators-reference.js';
export { fuseScores, ranks } from './fusion.js';
export { discriminatePositions, type PositionsOptions } from './positions.js';
export { quantileLinear, removeOutliers, softWeights, type Removal } from './removal.js';
export {
  windowDiscriminate,
  windowNeighbours,
  windowPositions,
  windowScores,
  type WindowNeighbours,
  type WindowOptions,
} from './window.js';
export { windowNeighboursReference } from './window-reference.js';
