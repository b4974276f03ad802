/**
 * `agent0/plugins/benchmarks`: the built-in plugin agent0/benchmarks (default export) and its helpers usable without
 * DI.
 */
export { default } from '../benchmarks/index.js';
export * from '../benchmarks/index.js';
