/**
 * `agent0/train`: the generic RL update over the contracts (rlStep) and the loss-gradient step that
 * engines running the model elsewhere share. It runs on TensorFlow.js tensors, so it is a subpath of
 * its own: the core entry `agent0` stays free of tfjs.
 */
export * from './rl-step.js';
export * from './loss-grads.js';
export * from './optimizer.js';
