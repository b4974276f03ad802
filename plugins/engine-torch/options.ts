import { type AdamWConfig, adamwSchema, type OptionsOf } from '../../core/index.js';

const nullable = <const E extends object>(type: 'string', extra: E, description: string) =>
  ({ type: [type, 'null'], default: null, ...extra, description }) as const;

/** Same semantics as policy/tfjs's optimizer (decay on matrices only, bias-corrected, eps after the square root). */
export const DEFAULT_OPTIMIZER: AdamWConfig = {
  lr: 1e-6,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
  warmupSteps: 0,
  maxGradNorm: 1,
};

export const torchOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    url: nullable(
      'string',
      { pattern: '^https?://' },
      'attach to a running trainer service (python -m agent0_trainer / torchrun) instead of launching one',
    ),
    apiKeyEnv: {
      type: 'string',
      default: '',
      description: "with url: environment variable holding the service's bearer token",
    },
    launch: {
      type: 'object',
      default: {},
      additionalProperties: false,
      description: 'how to start the service when url is null; policies with the same launch options share one service',
      properties: {
        python: nullable(
          'string',
          {},
          'interpreter with torch (null: $AGENT0_PYTHON, python3, /usr/bin/python3: the first that imports torch)',
        ),
        nproc: {
          type: 'integer',
          minimum: 1,
          default: 1,
          description: 'ranks (one per GPU); rows are split across them',
        },
        devices: nullable('string', {}, 'CUDA_VISIBLE_DEVICES for the ranks (null: inherited)'),
        launcher: {
          enum: ['auto', 'torchrun', 'env'],
          default: 'auto',
          description:
            "auto: torchrun for several ranks on torch >= 2, else one process per rank with RANK/WORLD_SIZE (Debian's torch 1.13 torchrun crashes)",
        },
        args: {
          type: 'array',
          items: { type: 'string' },
          default: [],
          description: 'extra flags of python -m agent0_trainer (e.g. --threads 2)',
        },
        env: {
          type: 'object',
          additionalProperties: { type: 'string' },
          default: {},
          description: 'extra environment of the ranks',
        },
        startupTimeoutMs: { type: 'integer', minimum: 1000, default: 300000 },
      },
    },
    checkpoint: nullable(
      'string',
      {},
      'HF model folder (config.json, safetensors, tokenizer files); null = random init from `config`',
    ),
    config: {
      type: 'object',
      default: {},
      description:
        "HF config.json fields for random init (hidden_size, intermediate_size, num_hidden_layers, num_attention_heads, num_key_value_heads, head_dim, ...); vocab_size defaults to the tokenizer's",
    },
    tokenizer: nullable(
      'string',
      {},
      "'tiny' (the embedded world's), or a folder with tokenizer.json / tiny_tokenizer.json; null = the checkpoint's, or 'tiny' without one",
    ),
    tokenizerWords: {
      type: 'array',
      items: { type: 'string', minLength: 2 },
      uniqueItems: true,
      default: [],
      description: "multi-character tokens of the 'tiny' tokenizer",
    },
    seed: {
      type: ['integer', 'null'],
      minimum: 0,
      default: null,
      description: 'weight init and sampling seed; null = derived from the run seed and the instance name',
    },
    optimizer: adamwSchema(
      DEFAULT_OPTIMIZER,
      'AdamW (decoupled weight decay on matrices) with linear warmup and global-norm clipping, run by the service (torch.optim.AdamW)',
    ),
    lossPath: {
      enum: ['auto', 'custom', 'fused'],
      default: 'auto',
      description:
        'custom: any loss closure (forward, loss and its gradient here, backward there: two forwards); fused: the service computes agent0_ppo itself (one round trip); auto: fused when every algorithm component can describe itself',
    },
    microBatchSize: {
      type: 'integer',
      minimum: 1,
      default: 64,
      description:
        'rows per loss-closure call on the custom path (the service cuts its own micro-batches by model.microBatchTokens)',
    },
    maxSeqLen: {
      type: 'integer',
      minimum: 2,
      default: 8192,
      description: 'prompt + generated tokens never exceed this',
    },
    sampleBatchSize: {
      type: 'integer',
      minimum: 1,
      default: 1024,
      description: 'prompts per /v1/completions request of generate()',
    },
    requestTimeoutMs: {
      type: 'integer',
      minimum: 1000,
      default: 3600000,
      description: 'limit of one service operation, queueing included',
    },
    model: {
      type: 'object',
      default: {},
      additionalProperties: false,
      description: 'how the service holds this model (null: its default for the device)',
      properties: {
        impl: {
          enum: ['auto', 'builtin', 'transformers'],
          default: 'auto',
          description: 'transformers when importable (auto), or the built-in Qwen3',
        },
        paramDtype: {
          enum: ['float32', 'float64', null],
          default: null,
          description: 'master weights and AdamW state (default float32)',
        },
        computeDtype: {
          enum: ['float32', 'float64', 'bfloat16', 'float16', null],
          default: null,
          description: 'forward/backward (default bfloat16 on GPU, the param dtype on CPU)',
        },
        shard: {
          enum: ['auto', 'fsdp2', 'none'],
          default: 'auto',
          description: 'auto: FSDP2 on GPU, replicated weights with a gradient all-reduce on CPU',
        },
        microBatchTokens: {
          type: ['integer', 'null'],
          minimum: 1,
          default: null,
          description: 'padded tokens per service micro-batch (default 16384)',
        },
        maxMicroBatchRows: { type: ['integer', 'null'], minimum: 1, default: null },
        gradientCheckpointing: {
          type: ['boolean', 'null'],
          default: null,
          description: 'recompute decoder layers in the backward pass (default on)',
        },
      },
    },
  },
} as const;

/** Options of `policy/torch`, as the recipe gives them after ajv filled the defaults. */
export type TorchPolicyOptions = OptionsOf<typeof torchOptionsSchema>;
