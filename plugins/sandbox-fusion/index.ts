import { defineComponent, definePlugin } from '../../core/index.js';
import { SandboxFusionTool, type SandboxFusionToolOptions } from './tool.js';

const sandboxFusion = defineComponent({
  kind: 'tool',
  name: 'sandbox-fusion',
  description: 'runs the model\'s ```python blocks on SandboxFusion servers (POST /run_code), load-balanced with retries',
  options: {
    type: 'object',
    additionalProperties: false,
    properties: {
      name: { type: 'string', minLength: 1, default: 'python', description: 'the tool\'s name in trajectories and metrics' },
      urls: {
        type: 'array', minItems: 1, items: { type: 'string', pattern: '^https?://' }, default: ['http://127.0.0.1:8080'],
        description: 'SandboxFusion servers (base URL or .../run_code); each call goes to the one with the fewest calls in flight',
      },
      language: { type: 'string', minLength: 1, default: 'python', description: 'SandboxFusion language (python, cpp, nodejs, bash, ...)' },
      fences: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, default: ['python', 'py'], description: 'code-fence info strings that mark an action' },
      runTimeoutS: { type: 'number', exclusiveMinimum: 0, default: 10, description: 'run_timeout sent to the sandbox (seconds)' },
      compileTimeoutS: { type: 'number', exclusiveMinimum: 0, default: 10, description: 'compile_timeout for compiled languages (seconds)' },
      memoryLimitMB: { type: 'integer', minimum: -1, default: 1024, description: 'memory_limit_MB sent to the sandbox (-1: none)' },
      stdin: { type: 'string', default: '', description: 'stdin for every program (an action\'s extra.stdin overrides it)' },
      requestTimeoutMs: { type: 'integer', minimum: 1, default: 30000, description: 'per-attempt HTTP timeout; keep it above runTimeoutS' },
      connectTimeoutMs: { type: 'integer', minimum: 1, default: 5000 },
      retries: { type: 'integer', minimum: 0, default: 3, description: 'extra attempts on connection errors, timeouts, HTTP 5xx/408/429 and malformed answers' },
      retrySandboxErrors: { type: 'boolean', default: true, description: 'also retry answers with status SandboxError' },
      backoffBaseMs: { type: 'integer', minimum: 0, default: 200 },
      backoffMaxMs: { type: 'integer', minimum: 0, default: 5000 },
      connections: { type: 'integer', minimum: 1, default: 32, description: 'keep-alive connections per server' },
      keepAliveMs: { type: 'integer', minimum: 1, default: 30000 },
      cooldownMs: { type: 'integer', minimum: 0, default: 2000, description: 'how long a server that refused a connection is skipped' },
      maxObservationChars: { type: 'integer', minimum: 16, default: 4096, description: 'cap on the observation' },
      errorTailChars: { type: 'integer', minimum: 0, default: 1500, description: 'how much of stderr\'s end a failed run shows' },
    },
  },
  create: (o, ctx) => {
    const opts = o as unknown as SandboxFusionToolOptions;
    if (opts.requestTimeoutMs <= opts.runTimeoutS * 1000) {
      ctx.log.warn(`sandbox-fusion: requestTimeoutMs (${opts.requestTimeoutMs}) <= runTimeoutS (${opts.runTimeoutS} s): long programs will time out on the client and be retried`);
    }
    return new SandboxFusionTool(opts, ctx.log, ctx.signal);
  },
});

export default definePlugin({
  meta: { name: 'agent0/sandbox-fusion', version: '0.1.0', description: 'SandboxFusion client tool: remote code execution over POST /run_code' },
  components: [sandboxFusion],
});
