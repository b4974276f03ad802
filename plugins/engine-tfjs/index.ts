import { defineComponent, definePlugin } from '../../core/index.js';
import { benchEngineCommand } from './bench/command.js';
import { createTfjsPolicy } from './create.js';
import { tfjsOptionsSchema } from './options.js';

export const tfjsPolicy = defineComponent({
  kind: 'policy',
  name: 'tfjs',
  description:
    'in-process Qwen3 causal LM on TensorFlow.js (wasm / tfjs-node / webgpu / cpu): batched KV-cache sampling, AdamW training, HF safetensors',
  options: tfjsOptionsSchema,
  create: (o, ctx) => createTfjsPolicy(o, ctx),
});

export const tfjsRollout = defineComponent({
  kind: 'rollout',
  name: 'tfjs',
  description: 'the tfjs Qwen3 engine used only to sample (same options as policy/tfjs)',
  options: tfjsOptionsSchema,
  create: (o, ctx) => createTfjsPolicy(o, ctx),
});

export default definePlugin({
  meta: {
    name: 'agent0/engine-tfjs',
    version: '0.1.0',
    description: 'the in-process Qwen3 policy engine on TensorFlow.js',
  },
  components: [tfjsPolicy, tfjsRollout],
  commands: [benchEngineCommand],
});
