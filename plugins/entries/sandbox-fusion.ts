/**
 * `agent0/plugins/sandbox-fusion`: the built-in plugin agent0/sandbox-fusion (default export) and its helpers usable
 * without DI.
 */
export { default } from '../sandbox-fusion/index.js';
export * from '../sandbox-fusion/public.js';
