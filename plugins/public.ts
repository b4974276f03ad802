/**
 * The package's main entry (`import ... from 'agent0'`): the core API for plugin authors and
 * scripts, the built-in plugin list, and the pure math helpers of built-in components.
 */
export * from '../core/index.js';
export { builtinPlugins } from './index.js';
export * from './algorithms/public.js';
export * from './rewards/public.js';
export * from './arith-world/public.js';
export * from './sandbox-fusion/public.js';
export * from './tool-server/public.js';
export * from './openai-engine/public.js';
export * from './serve/public.js';
export * from './agent-loop/public.js';
export * from './python-sandbox/public.js';
export * from './engine-tfjs/public.js';
export * from './math-verifier/public.js';
