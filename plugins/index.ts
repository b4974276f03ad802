import type { Plugin } from '../core/index.js';
import algorithms from './algorithms/index.js';
import rewards from './rewards/index.js';
import arithWorld from './arith-world/index.js';
import benchmarks from './benchmarks/index.js';
import pipeline from './agent0-pipeline/index.js';
import openaiEngine from './openai-engine/index.js';
import serve from './serve/index.js';
import sandboxFusion from './sandbox-fusion/index.js';
import toolServer from './tool-server/index.js';
import agentLoop from './agent-loop/index.js';
import pythonSandbox from './python-sandbox/index.js';
import engineTfjs from './engine-tfjs/index.js';
import engineTorch from './engine-torch/index.js';
import mathVerifier from './math-verifier/index.js';

/**
 * The built-in plugins, listed explicitly (as tfjs lists its kernels): one import and one entry
 * per plugin. Third-party plugins are named in a recipe's `plugins:` list instead.
 */
export const builtinPlugins: Plugin[] = [
  algorithms,
  rewards,
  arithWorld,
  benchmarks,
  pipeline,
  openaiEngine,
  serve,
  sandboxFusion,
  toolServer,
  agentLoop,
  pythonSandbox,
  engineTfjs,
  engineTorch,
  mathVerifier,
];
