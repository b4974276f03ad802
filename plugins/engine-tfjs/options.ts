import { adamwSchema, type OptionsOf } from '../../core/index.js';
import { DEFAULT_ADAMW } from './train/adamw.js';
import { BACKEND_CHOICES } from './backend/choices.js';

/** An integer option; a null default makes it nullable. */
function int<D extends number | null>(min: number, dflt: D, description: string) {
  const type = (dflt === null ? ['integer', 'null'] : 'integer') as D extends null
    ? readonly ['integer', 'null']
    : 'integer';
  return { type, minimum: min, default: dflt, description } as const;
}

/** Qwen3 config.json fields a recipe may set for random init; the rest come from the tiny default. */
const configSchema = {
  type: 'object',
  default: {},
  description:
    "Qwen3 config.json fields for random init (ignored with a checkpoint); unset fields take the tiny embedded size; vocab_size defaults to the tokenizer's",
  additionalProperties: false,
  properties: {
    vocab_size: { type: 'integer', minimum: 2 },
    hidden_size: { type: 'integer', minimum: 2 },
    intermediate_size: { type: 'integer', minimum: 1 },
    num_hidden_layers: { type: 'integer', minimum: 1 },
    num_attention_heads: { type: 'integer', minimum: 1 },
    num_key_value_heads: { type: 'integer', minimum: 1 },
    head_dim: { type: 'integer', minimum: 2 },
    rms_norm_eps: { type: 'number', exclusiveMinimum: 0 },
    rope_theta: { type: 'number', exclusiveMinimum: 0 },
    tie_word_embeddings: { type: 'boolean' },
    max_position_embeddings: { type: 'integer', minimum: 1 },
  },
} as const;

export const tfjsOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    checkpoint: {
      type: ['string', 'null'],
      default: null,
      description:
        'HF folder (config.json, model.safetensors or a sharded index, tokenizer files); null = random init from `config`',
    },
    config: configSchema,
    tokenizer: {
      type: ['string', 'null'],
      default: null,
      description:
        "'tiny' (character-level, the embedded world) or a folder with tokenizer.json / tiny_tokenizer.json; null = the checkpoint's, or 'tiny' without one",
    },
    tokenizerWords: {
      type: 'array',
      items: { type: 'string', minLength: 2 },
      uniqueItems: true,
      default: [],
      description:
        "multi-character tokens added to the 'tiny' tokenizer (matched longest first), e.g. a world's fixed strings; they shorten sequences",
    },
    seed: int(0, null, 'weight init and default sampling seed; null = derived from the run seed and the instance name'),
    optimizer: adamwSchema(
      DEFAULT_ADAMW,
      'AdamW (decoupled weight decay on matrices) with linear warmup and global-norm clipping',
    ),
    microBatchSize: int(
      1,
      8,
      'rows per micro-batch in trainStep / computeLogProbs (gradient accumulation; the wasm heap is 4 GiB)',
    ),
    maxMicroBatchTokens: int(
      0,
      2048,
      'cap on rows × sequence length per training micro-batch (4x that without gradients): longer batches use more, smaller micro-batches instead of exhausting the 4 GiB wasm heap (~0.3 MB per token at 256 tokens for the tiny model); 0 = no cap',
    ),
    batchSize: int(
      1,
      64,
      'rows decoded together by generate(); larger batches amortise the per-step op overhead (on wasm 64 rows decode ~1.3x the tokens/s of 16)',
    ),
    maxSeqLen: int(2, 512, 'prompt + generated tokens never exceed this'),
    backend: {
      type: 'string',
      enum: [...BACKEND_CHOICES],
      default: 'auto',
      description: 'auto tries tfjs-node-gpu, tfjs-node, webgpu, wasm, cpu in that order',
    },
    workers: int(
      1,
      null,
      'worker threads, each with a copy of the weights, that split every batch (data parallel: wasm and cpu use one core per thread); null = one per core up to 4 on wasm/cpu for models up to 50M parameters, else 1',
    ),
  },
} as const;

/** Options of `policy/tfjs` (and `rollout/tfjs`), as the recipe gives them after ajv filled the defaults. */
export type TfjsComponentOptions = OptionsOf<typeof tfjsOptionsSchema>;
