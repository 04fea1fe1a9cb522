/** The engine's public API: build a bank set from training features, score test patches against it. */
export type * from './types.js';
export { DEFAULT_ENGINE_CONFIG, resolveEngineConfig, type DeepPartial } from './config.js';
export { buildBankSet, estimateBuildBytes, type BuildHooks } from './build.js';
export { createRng, type Rng } from './random.js';
export { nearestRows } from './search.js';
export { scorePatches } from './score.js';
export { anomalyMap } from './map.js';
