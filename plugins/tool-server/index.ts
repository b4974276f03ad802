import { defineComponent, definePlugin } from '../../core/index.js';
import { benchToolServerCommand } from './bench.js';
import { toolServerCommand } from './command.js';
import { actionMatcher, RemoteTools, type RemoteToolsOptions } from './remote.js';

const remoteTools = defineComponent({
  kind: 'tool',
  name: 'remote-tools',
  description: 'parses actions locally and runs them on a VeRL-Tool-compatible server (POST /get_observation), batching concurrent calls',
  options: {
    type: 'object',
    additionalProperties: false,
    properties: {
      name: { type: 'string', minLength: 1, default: 'python', description: 'the tool\'s name in trajectories and metrics' },
      url: { type: 'string', pattern: '^https?://', default: 'http://127.0.0.1:5000', description: 'server base URL or its /get_observation route' },
      fences: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 }, default: ['python', 'py'], description: 'code-fence info strings that mark an action' },
      pattern: { type: 'string', default: '', description: 'a regular expression instead of fences: the last match\'s first group (or whole match) is the action' },
      actionTemplate: { type: 'string', pattern: '\\{action\\}', default: '```python\n{action}\n```', description: 'how the action is sent, for the server\'s parser ({action} is replaced)' },
      timeoutMs: { type: 'integer', minimum: 1, default: 120000, description: 'per-request timeout' },
      connectTimeoutMs: { type: 'integer', minimum: 1, default: 5000 },
      retries: { type: 'integer', minimum: 0, default: 3, description: 'extra attempts on connection errors, timeouts, HTTP 5xx/408/429 and malformed answers' },
      backoffBaseMs: { type: 'integer', minimum: 0, default: 100 },
      backoffMaxMs: { type: 'integer', minimum: 0, default: 2000 },
      batchWindowMs: { type: 'number', minimum: 0, default: 2, description: 'calls within this window share one request (0: no batching)' },
      maxBatchSize: { type: 'integer', minimum: 1, default: 128 },
      connections: { type: 'integer', minimum: 1, default: 32, description: 'keep-alive connections; without batching this caps the calls in flight' },
      keepAliveMs: { type: 'integer', minimum: 1, default: 30000 },
      apiKeyEnv: { type: 'string', default: '', description: 'environment variable holding the server\'s bearer token (tool-server --api-key-env)' },
      observationFormat: {
        type: 'string', pattern: '^(raw|ipython_code|python_code(:[A-Za-z_][\\w-]*)?)$', default: 'python_code',
        description: 'the envelope the server wraps observations in (VeRL-Tool\'s python_code, python_code:TAG, ipython_code); it is taken off so the agent loop wraps the text once (raw: keep the server\'s text)',
      },
    },
  },
  create: (o, ctx) => {
    const opts = o as unknown as RemoteToolsOptions;
    actionMatcher(opts.fences, opts.pattern);
    return new RemoteTools(opts, ctx.log);
  },
});

export default definePlugin({
  meta: { name: 'agent0/tool-server', version: '0.1.0', description: 'VeRL-Tool-compatible tool server (agent0 tool-server) and the remote-tools client tool' },
  components: [remoteTools],
  commands: [toolServerCommand, benchToolServerCommand],
});
