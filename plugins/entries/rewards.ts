/** `agent0/plugins/rewards`: the built-in plugin agent0/rewards (default export) and its helpers usable without DI. */
export { default } from '../rewards/index.js';
export * from '../rewards/public.js';
