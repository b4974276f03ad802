import type { OptionsOf } from '../../core/index.js';
import { retryPolicySchema } from '../shared/retry.js';

/** Options of `tool/remote-tools`. */
export const remoteToolsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: {
      type: 'string',
      minLength: 1,
      default: 'python',
      description: "the tool's name in trajectories and metrics",
    },
    url: {
      type: 'string',
      pattern: '^https?://',
      default: 'http://127.0.0.1:5000',
      description: 'server base URL or its /get_observation route',
    },
    fences: {
      type: 'array',
      minItems: 1,
      items: { type: 'string', minLength: 1 },
      default: ['python', 'py'],
      description:
        'code-fence info strings that mark an action; all such blocks of a turn (<python> tags too when it lists python) are sent as one program',
    },
    stop: {
      type: 'array',
      items: { type: 'string' },
      default: ['```output'],
      description: 'stop strings ending a tool turn; code blocks are looked for before the last one',
    },
    pattern: {
      type: 'string',
      default: '',
      description:
        "a regular expression instead of fences: the last match's first group (or whole match) is the action",
    },
    actionTemplate: {
      type: 'string',
      pattern: '\\{action\\}',
      default: '```python\n{action}\n```',
      description: "how the action is sent, for the server's parser ({action} is replaced)",
    },
    timeoutMs: { type: 'integer', minimum: 1, default: 120000, description: 'per-request timeout' },
    connectTimeoutMs: { type: 'integer', minimum: 1, default: 5000 },
    ...retryPolicySchema({ retries: 3, backoffBaseMs: 100, backoffMaxMs: 2000 }),
    batchWindowMs: {
      type: 'number',
      minimum: 0,
      default: 2,
      description: 'calls within this window share one request (0: no batching)',
    },
    maxBatchSize: { type: 'integer', minimum: 1, default: 128 },
    connections: {
      type: 'integer',
      minimum: 1,
      default: 32,
      description: 'keep-alive connections; without batching this caps the calls in flight',
    },
    keepAliveMs: { type: 'integer', minimum: 1, default: 30000 },
    apiKeyEnv: {
      type: 'string',
      default: '',
      description: "environment variable holding the server's bearer token (tool-server --api-key-env)",
    },
    observationFormat: {
      type: 'string',
      pattern: '^(raw|ipython_code|python_code(:[A-Za-z_][\\w-]*)?)$',
      default: 'python_code',
      description:
        "the envelope the server wraps observations in (VeRL-Tool's python_code, python_code:TAG, ipython_code); it is taken off so the agent loop wraps the text once (raw: keep the server's text)",
    },
  },
} as const;

export type RemoteToolsComponentOptions = OptionsOf<typeof remoteToolsSchema>;
