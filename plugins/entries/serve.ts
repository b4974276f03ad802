/** `agent0/plugins/serve`: the built-in plugin agent0/serve (default export) and its helpers usable without DI. */
export { default } from '../serve/index.js';
export * from '../serve/public.js';
