/** Pure math of the algorithm components, on tfjs tensors, usable without DI. */
export * from './math/adpo-defaults.js';
export * from './math/advantage.js';
export * from './math/policy-loss.js';
export * from './math/kl.js';
export * from './math/loss-agg.js';
export * from './math/masked.js';
export * from './math/dapo.js';
