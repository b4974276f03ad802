import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { defineComponent, definePlugin } from '../../core/index.js';
import { SandboxFusionTool, type SandboxFusionToolOptions } from './tool.js';

/** One file for the sandbox, as a recipe writes it. */
type FileSpec = { path: string } | { text: string } | { base64: string };

/** Base64 contents for SandboxFusion's `files`, read once when the tool is built. */
async function encodeFiles(specs: Record<string, FileSpec>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, f] of Object.entries(specs)) {
    if ('path' in f) {
      try {
        out[name] = (await readFile(path.resolve(f.path))).toString('base64');
      } catch (e) {
        throw new Error(`sandbox-fusion: files.${name}: cannot read ${f.path} (${(e as Error).message})`, { cause: e });
      }
    } else {
      out[name] = 'text' in f ? Buffer.from(f.text, 'utf8').toString('base64') : f.base64;
    }
  }
  return out;
}

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
      retrySandboxErrors: { type: 'boolean', default: true, description: 'also retry SandboxError answers, on another server; the same SandboxError twice is returned at once (the request causes it)' },
      backoffBaseMs: { type: 'integer', minimum: 0, default: 200 },
      backoffMaxMs: { type: 'integer', minimum: 0, default: 5000 },
      connections: { type: 'integer', minimum: 1, default: 32, description: 'keep-alive connections per server' },
      keepAliveMs: { type: 'integer', minimum: 1, default: 30000 },
      cooldownMs: { type: 'integer', minimum: 0, default: 2000, description: 'how long a server that refused a connection is skipped' },
      maxObservationChars: { type: 'integer', minimum: 16, default: 4096, description: 'cap on the observation' },
      errorTailChars: { type: 'integer', minimum: 0, default: 1500, description: 'how much of stderr\'s end a failed run shows' },
      files: {
        type: 'object', default: {},
        description: 'files written into the program\'s folder before every run: relative path → {path: local file} | {text} | {base64}',
        additionalProperties: {
          oneOf: [
            { type: 'object', additionalProperties: false, required: ['path'], properties: { path: { type: 'string', minLength: 1 } } },
            { type: 'object', additionalProperties: false, required: ['text'], properties: { text: { type: 'string' } } },
            { type: 'object', additionalProperties: false, required: ['base64'], properties: { base64: { type: 'string', pattern: '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$' } } },
          ],
        },
      },
      fetchFiles: {
        type: 'array', items: { type: 'string', minLength: 1 }, default: [],
        description: 'paths (relative to the program\'s folder) whose contents come back after every run (exec().files)',
      },
    },
  },
  create: async (o, ctx) => {
    const { files, ...rest } = o as unknown as Omit<SandboxFusionToolOptions, 'files'> & { files: Record<string, FileSpec> };
    const opts: SandboxFusionToolOptions = { ...rest, files: await encodeFiles(files) };
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
