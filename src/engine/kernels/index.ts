/** Numerical building blocks shared by the engine: the seeded PRNG, random projections, dense linear algebra, onnxruntime matrix graphs, bank rows in WebAssembly memory. */
export { createRng, type Rng } from './random.js';
export { Projector, drawProjection, projectReference } from './projection.js';
export { normalSampler, orthonormaliseRows, principalSubspace, type Subspace, type SubspaceOptions } from './linalg.js';
export { bankRows, exactKernel, sharedRows, type ExactKernel, type RowMemory } from './exact.js';
