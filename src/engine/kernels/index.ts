/** Numerical building blocks shared by the engine: the seeded PRNG, random projections, onnxruntime matrix graphs. */
export { createRng, type Rng } from './random.js';
export { Projector, drawProjection, projectReference } from './projection.js';
