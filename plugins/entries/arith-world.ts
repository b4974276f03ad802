/**
 * `agent0/plugins/arith-world`: the built-in plugin agent0/arith-world (default export) and its helpers usable without
 * DI.
 */
export { default } from '../arith-world/index.js';
export * from '../arith-world/public.js';
