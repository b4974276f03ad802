import path from 'node:path';
import { defineComponent, definePlugin, HfTokenizer, type Tokenizer } from '../../core/index.js';
import { RemoteRolloutPolicy } from './hybrid.js';
import { OpenAIRolloutEngine } from './engine.js';
import { openAIEngineSchema } from './options.js';
import { modelVocabSize } from './vocab-size.js';

export const openAIRollout = defineComponent({
  kind: 'rollout',
  name: 'openai',
  description:
    'rollouts on OpenAI-compatible servers (vLLM, SGLang, agent0 serve): least-busy balancing, trajectory affinity, retries',
  options: openAIEngineSchema,
  async create(o, ctx) {
    let tokenizer: Tokenizer;
    // The model's vocabulary, when known, bounds the ids answers may hold (0: the tokenizer's size).
    let vocabSize = o.vocabSize;
    if (o.tokenizer) {
      const inst = await ctx.get<{ tokenizer?: Tokenizer; describe?: () => Record<string, unknown> }>(o.tokenizer);
      if (!inst?.tokenizer || typeof inst.tokenizer.encode !== 'function') {
        throw new Error(
          `rollout/openai: instance '${o.tokenizer}' (option tokenizer) has no tokenizer; name a policy or rollout instance`,
        );
      }
      tokenizer = inst.tokenizer;
      const vocab = typeof inst.describe === 'function' ? inst.describe().vocab : undefined;
      if (vocabSize === 0 && Number.isInteger(vocab)) vocabSize = vocab as number;
    } else if (o.tokenizerPath) {
      tokenizer = await HfTokenizer.load(path.resolve(o.tokenizerPath)).catch((e: Error) => {
        throw new Error(`rollout/openai: tokenizerPath: ${e.message}`, { cause: e });
      });
      if (vocabSize === 0) vocabSize = await modelVocabSize(path.resolve(o.tokenizerPath));
    } else {
      throw new Error(
        'rollout/openai: set `tokenizer` (a policy/rollout instance name) or `tokenizerPath` (an HF folder with tokenizer.json)',
      );
    }
    return new OpenAIRolloutEngine({ ...o, vocabSize }, tokenizer, { log: ctx.log });
  },
});

export const remoteRolloutPolicy = defineComponent({
  kind: 'policy',
  name: 'remote-rollout',
  description:
    'a policy that samples on a rollout engine (e.g. rollout/openai) and trains, scores and saves on a local policy',
  options: {
    type: 'object',
    additionalProperties: false,
    required: ['policy', 'rollout'],
    properties: {
      policy: { type: 'string', 'x-ref': 'policy', description: 'the local policy: log-probs, training, checkpoints' },
      rollout: {
        type: 'string',
        'x-ref': 'rollout',
        description: 'the engine that samples (its weights are not synced from the local policy)',
      },
    },
  },
  async create(o, ctx) {
    return new RemoteRolloutPolicy(await ctx.get(o.policy, 'policy'), await ctx.get(o.rollout, 'rollout'), o.rollout);
  },
});

export default definePlugin({
  meta: { name: 'agent0/openai-engine', version: '0.1.0', description: 'remote rollouts over the OpenAI protocol' },
  components: [openAIRollout, remoteRolloutPolicy],
});
