/**
 * `agent0/plugins/algorithms`: the built-in plugin agent0/algorithms (default export) and its helpers usable without
 * DI.
 */
export { default } from '../algorithms/index.js';
export * from '../algorithms/public.js';
