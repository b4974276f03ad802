import type { Plugin } from '../core/index.js';
import algorithms from './algorithms/index.js';
import arithWorld from './arith-world/index.js';
import benchmarks from './benchmarks/index.js';
import pipeline from './agent0-pipeline/index.js';

/**
 * The built-in plugins, listed explicitly (as tfjs lists its kernels): one import and one entry
 * per plugin. Third-party plugins are named in a recipe's `plugins:` list instead.
 */
export const builtinPlugins: Plugin[] = [
  algorithms,
  arithWorld,
  benchmarks,
  pipeline,
];
