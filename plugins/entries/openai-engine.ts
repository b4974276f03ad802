/**
 * `agent0/plugins/openai-engine`: the built-in plugin agent0/openai-engine (default export) and its helpers usable
 * without DI.
 */
export { default } from '../openai-engine/index.js';
export * from '../openai-engine/public.js';
