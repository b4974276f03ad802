import type { OptionsOf } from '../../core/index.js';
import { retryPolicySchema } from '../shared/retry.js';

const retry = retryPolicySchema({ retries: 3, backoffBaseMs: 200, backoffMaxMs: 5000 });

/** Options of `tool/sandbox-fusion`. */
export const sandboxFusionSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: {
      type: 'string',
      minLength: 1,
      default: 'python',
      description: "the tool's name in trajectories and metrics",
    },
    urls: {
      type: 'array',
      minItems: 1,
      items: { type: 'string', pattern: '^https?://' },
      default: ['http://127.0.0.1:8080'],
      description:
        'SandboxFusion servers (base URL or .../run_code); each call goes to the one with the fewest calls in flight',
    },
    language: {
      type: 'string',
      minLength: 1,
      default: 'python',
      description: 'SandboxFusion language (python, cpp, nodejs, bash, ...)',
    },
    fences: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      minItems: 1,
      default: ['python', 'py'],
      description:
        'code-fence info strings that mark an action; all such blocks of a turn run together (<python> tags too when it lists python)',
    },
    stop: {
      type: 'array',
      items: { type: 'string' },
      default: ['```output'],
      description: 'stop strings ending a tool turn; code blocks are looked for before the last one',
    },
    runTimeoutSeconds: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 10,
      description: 'run_timeout sent to the sandbox (seconds)',
    },
    compileTimeoutSeconds: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 10,
      description: 'compile_timeout for compiled languages (seconds)',
    },
    memoryLimitMB: {
      type: 'integer',
      minimum: -1,
      default: 1024,
      description: 'memory_limit_MB sent to the sandbox (-1: none)',
    },
    stdin: {
      type: 'string',
      default: '',
      description: "stdin for every program (an action's extra.stdin overrides it)",
    },
    requestTimeoutMs: {
      type: 'integer',
      minimum: 1,
      default: 30000,
      description: 'per-attempt HTTP timeout; keep it above runTimeoutSeconds',
    },
    connectTimeoutMs: { type: 'integer', minimum: 1, default: 5000 },
    retries: retry.retries,
    retrySandboxErrors: {
      type: 'boolean',
      default: true,
      description:
        'also retry SandboxError answers, on another server; the same SandboxError twice is returned at once (the request causes it)',
    },
    backoffBaseMs: retry.backoffBaseMs,
    backoffMaxMs: retry.backoffMaxMs,
    connections: { type: 'integer', minimum: 1, default: 32, description: 'keep-alive connections per server' },
    keepAliveMs: { type: 'integer', minimum: 1, default: 30000 },
    cooldownMs: {
      type: 'integer',
      minimum: 0,
      default: 2000,
      description: 'how long a server that refused a connection is skipped',
    },
    maxObservationChars: { type: 'integer', minimum: 16, default: 4096, description: 'cap on the observation' },
    errorTailChars: {
      type: 'integer',
      minimum: 0,
      default: 1500,
      description: "how much of stderr's end a failed run shows",
    },
    files: {
      type: 'object',
      default: {},
      description:
        "files written into the program's folder before every run: relative path → {path: local file} | {text} | {base64}",
      additionalProperties: {
        oneOf: [
          {
            type: 'object',
            additionalProperties: false,
            required: ['path'],
            properties: { path: { type: 'string', minLength: 1 } },
          },
          { type: 'object', additionalProperties: false, required: ['text'], properties: { text: { type: 'string' } } },
          {
            type: 'object',
            additionalProperties: false,
            required: ['base64'],
            properties: {
              base64: { type: 'string', pattern: '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$' },
            },
          },
        ],
      },
    },
    fetchFiles: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      default: [],
      description: "paths (relative to the program's folder) whose contents come back after every run (exec().files)",
    },
  },
} as const;

export type SandboxFusionOptions = OptionsOf<typeof sandboxFusionSchema>;
/** One file for the sandbox, as a recipe writes it. */
export type FileSpec = SandboxFusionOptions['files'][string];
