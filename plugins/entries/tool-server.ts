/**
 * `agent0/plugins/tool-server`: the built-in plugin agent0/tool-server (default export) and its helpers usable without
 * DI.
 */
export { default } from '../tool-server/index.js';
export * from '../tool-server/public.js';
