/** What scripts may use from the tfjs engine without a recipe: the policy, the model, its I/O and tokenizers. */
export { TfjsPolicy, type TfjsPolicyOptions } from './policy.js';
export { Qwen3Model } from './model/qwen3.js';
export { countParams, resolveConfig, type Qwen3Config, SMALL_CONFIG, TINY_CONFIG } from './model/config.js';
export { readSafetensors, writeSafetensors } from './io/safetensors.js';
export { selectBackend, type BackendChoice, type BackendInfo } from './backend/select.js';
export { sampleToken, type SampleConfig } from './generate/sampler.js';
