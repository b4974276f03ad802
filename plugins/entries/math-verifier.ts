/**
 * `agent0/plugins/math-verifier`: the built-in plugin agent0/math-verifier (default export) and its helpers usable
 * without DI.
 */
export { default } from '../math-verifier/index.js';
export * from '../math-verifier/public.js';
