/** Kept apart from select.ts, which registers the wasm backend on import, so options.ts loads none. */
export const BACKEND_CHOICES = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];
