/**
 * The package's main entry (`import ... from 'agent0'`): the core API for plugin authors and
 * scripts, the built-in plugin list, and the pure math helpers of built-in components.
 */
export * from '../core/index.js';
export { builtinPlugins } from './index.js';
export * from './algorithms/public.js';
export * from './arith-world/public.js';
