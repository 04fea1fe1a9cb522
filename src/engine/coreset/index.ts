/** Weighted greedy coreset (spec §5): the fast sampler and the plain loop it must agree with, pick for pick. */
export { greedyCoreset, type CoresetOptions, type CoresetResult } from './coreset.js';
export { greedyCoresetReference, repairCoresetReference } from './coreset-reference.js';
export { repairCoreset, type FinishedRun, type RepairResult } from './repair.js';
export { coresetDistance, coresetDistances4, drawStartPoints, rowDot, squaredNorms, type CoresetInput } from './metric.js';
export { GroupArena } from './group-arena.js';
