/**
 * `agent0/plugins/pipeline`: the built-in plugin agent0/pipeline (default export) and its helpers usable without DI.
 */
export { default } from '../pipeline/index.js';
