/**
 * `agent0/plugins/engine-tfjs`: the built-in plugin agent0/engine-tfjs (default export) and its helpers usable without
 * DI.
 */
export { default } from '../engine-tfjs/index.js';
export * from '../engine-tfjs/public.js';
