import { defineComponent, definePlugin } from '../../core/index.js';
import { benchTrainerCommand } from './bench.js';
import { createTorchPolicy } from './create.js';
import { torchOptionsSchema } from './options.js';

export const torchPolicy = defineComponent({
  kind: 'policy',
  name: 'torch',
  description:
    'a causal LM trained by the agent0 trainer service (PyTorch; transformers or built-in Qwen3; FSDP2 on GPUs): custom or fused losses, AdamW, HF checkpoints, sampling with the live weights',
  options: torchOptionsSchema,
  create: (o, ctx) => createTorchPolicy(o, ctx),
});

export default definePlugin({
  meta: {
    name: 'agent0/engine-torch',
    version: '0.1.0',
    description: 'policies whose weights live in a PyTorch trainer service driven over HTTP',
  },
  components: [torchPolicy],
  commands: [benchTrainerCommand],
});
