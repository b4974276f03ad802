/**
 * `agent0/plugins/engine-torch`: the built-in plugin agent0/engine-torch (default export) and its helpers usable
 * without DI.
 */
export { default } from '../engine-torch/index.js';
export * from '../engine-torch/index.js';
