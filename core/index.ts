/**
 * agent0 core (the package entry `agent0`): contracts, DI tokens, plugin manifest, registry,
 * recipes and the run machinery. It loads no TensorFlow.js: the tensor parts of core are the
 * subpaths `agent0/train` (core/train/index.ts) and `agent0/testkit` (core/testkit/index.ts).
 */
import 'reflect-metadata';

export * from './contracts/kinds.js';
export * from './contracts/policy.js';
export * from './contracts/tool.js';
export * from './contracts/rollout.js';
export * from './contracts/fields.js';
export * from './contracts/algorithms.js';
export * from './contracts/reward.js';
export * from './contracts/verifier.js';
export * from './contracts/tasks.js';
export * from './contracts/metrics.js';
export * from './contracts/stage.js';
export * from './contracts/component.js';
export * from './plugin/define.js';
export * from './plugin/registry.js';
export * from './plugin/lazy.js';
export * from './util/rng.js';
export * from './util/streaming.js';
export * from './util/logger.js';
export * from './util/progress.js';
export * from './util/atomic.js';
export * from './run/run-dir.js';
export * from './run/artifacts.js';
export * from './run/checkpoints.js';
export * from './run/layout.js';
export * from './tokens.js';
export * from './plugin/loader.js';
export * from './recipe/types.js';
export * from './recipe/errors.js';
export * from './recipe/load.js';
export { applySets, loadLayers, mergeRecipe, parseSet } from './recipe/layers.js';
export { fillOptions, validateRecipe } from './recipe/validate.js';
export * from './run/session.js';
export * from './run/pipeline.js';
export * from './cli/command.js';
export { commandHelp, wantsHelp, type CliOption, type CliOptions } from './cli/help.js';
export { createRegistry, DefaultCliEnv } from './cli/env.js';
export { main as cliMain } from './cli/main.js';
export * from './util/majority.js';
export * from './tokenizer/index.js';
export * from './train/optimizer.js';
export * from './http/guard.js';
export * from './util/python.js';
