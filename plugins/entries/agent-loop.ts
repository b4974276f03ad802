/**
 * `agent0/plugins/agent-loop`: the built-in plugin agent0/agent-loop (default export) and its helpers usable without
 * DI.
 */
export { default } from '../agent-loop/index.js';
export * from '../agent-loop/public.js';
