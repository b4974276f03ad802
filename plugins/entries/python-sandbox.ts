/**
 * `agent0/plugins/python-sandbox`: the built-in plugin agent0/python-sandbox (default export) and its helpers usable
 * without DI.
 */
export { default } from '../python-sandbox/index.js';
export * from '../python-sandbox/public.js';
