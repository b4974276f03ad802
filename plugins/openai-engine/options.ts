import type { OptionsOf } from '../../core/index.js';
import { retryPolicySchema } from '../shared/retry.js';

export const openAIEngineSchema = {
  type: 'object',
  additionalProperties: false,
  // the retry options are spelled as in the other HTTP clients (tool/sandbox-fusion, tool/remote)
  'x-renamed': { maxRetries: 'retries', retryBaseMs: 'backoffBaseMs', retryMaxMs: 'backoffMaxMs' },
  properties: {
    urls: {
      type: 'array',
      items: { type: 'string', pattern: '^https?://' },
      minItems: 1,
      default: ['http://127.0.0.1:8000/v1'],
      description: 'base URLs of vLLM / SGLang / agent0 serve endpoints, each ending in /v1',
    },
    model: { type: 'string', default: '', description: "model name; '' asks each endpoint's GET /v1/models" },
    api: {
      enum: ['completions', 'chat'],
      default: 'completions',
      description: 'chat sends the decoded prompt as one user message (lossy for multi-turn)',
    },
    apiKeyEnv: { type: 'string', default: '', description: 'environment variable holding the bearer token' },
    tokenizer: {
      type: 'string',
      default: '',
      description: 'name of a recipe instance (policy or rollout) that provides the tokenizer',
    },
    tokenizerPath: {
      type: 'string',
      default: '',
      description: 'HF model folder holding tokenizer.json (used when `tokenizer` is empty); no weights are loaded',
    },
    vocabSize: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description:
        "answers with token ids at or above this are refused; 0: the model's vocab_size from the tokenizer instance or tokenizerPath's config.json (often padded past the tokenizer), else the tokenizer's size",
    },
    promptFormat: {
      enum: ['token-ids', 'text'],
      default: 'token-ids',
      description: 'send prompts as token ids (vLLM, SGLang) or as decoded text',
    },
    returnTokenIds: {
      type: 'boolean',
      default: true,
      description: "vLLM's return_token_ids: exact sampled ids instead of re-encoding the text",
    },
    tokensAsTokenIds: {
      type: 'boolean',
      default: false,
      description: "vLLM's return_tokens_as_token_ids: ids read from the logprobs tokens ('token_id:N')",
    },
    includeStopStrInOutput: {
      type: 'boolean',
      default: true,
      description:
        "keep the stop string in the text: sent as vLLM's include_stop_str_in_output and SGLang's no_stop_trim; when a server strips it anyway, the engine appends it",
    },
    skipSpecialTokens: {
      type: ['boolean', 'null'],
      default: false,
      description:
        "sent as skip_special_tokens (vLLM, SGLang); false keeps special tokens' text, so ids re-encoded from text keep them; null: not sent (servers that reject the field)",
    },
    logprobs: {
      type: 'boolean',
      default: true,
      description: "ask for the sampled tokens' log-probs (NaN where the server gives none)",
    },
    promptLogprobs: {
      type: ['integer', 'null'],
      minimum: 0,
      default: null,
      description: "vLLM's prompt_logprobs, passed through",
    },
    extraBody: {
      type: 'object',
      default: {},
      description: 'merged into every request body (vendor sampling options such as min_p, repetition_penalty)',
    },
    timeoutMs: {
      type: 'integer',
      minimum: 1,
      default: 600000,
      description: 'per-request wall-clock limit (one attempt)',
    },
    connectTimeoutMs: { type: 'integer', minimum: 1, default: 10000 },
    ...retryPolicySchema({ retries: 4, backoffBaseMs: 250, backoffMaxMs: 8000 }),
    connectionsPerEndpoint: {
      type: 'integer',
      minimum: 1,
      default: 64,
      description: 'keep-alive pool size per endpoint',
    },
    keepAliveMs: { type: 'integer', minimum: 1, default: 60000 },
    cooldownMs: {
      type: 'integer',
      minimum: 0,
      default: 2000,
      description: 'an endpoint that failed is avoided this long when others are up',
    },
    affinityCacheSize: {
      type: 'integer',
      minimum: 1,
      default: 100000,
      description: 'trajectories remembered for endpoint affinity (LRU)',
    },
    groupIdenticalPrompts: {
      type: 'boolean',
      default: true,
      description: 'identical prompts without affinity keys go as one request with n > 1',
    },
    weightSync: {
      enum: ['none', 'from-disk'],
      default: 'none',
      description:
        "from-disk: loadWeights(dir) POSTs {model_path: dir} to every server's /update_weights_from_disk (SGLang; agent0 serve --allow-reload); the folder must be readable by the servers at that path",
    },
    weightSyncTimeoutMs: {
      type: 'integer',
      minimum: 1,
      default: 600000,
      description: 'per server, for one weight reload',
    },
  },
} as const;

/** Validated options of `rollout/openai` (defaults filled by the registry). */
export type OpenAIEngineOptions = OptionsOf<typeof openAIEngineSchema>;
