import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { defineComponent, definePlugin } from '../../core/index.js';
import { type FileSpec, sandboxFusionSchema } from './options.js';
import { SandboxFusionTool, type SandboxFusionToolOptions } from './tool.js';

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
  description:
    "runs the model's code blocks (all of a turn, as one program) on SandboxFusion servers (POST /run_code), load-balanced with retries",
  options: sandboxFusionSchema,
  create: async (o, ctx) => {
    const { files, ...rest } = o;
    const opts: SandboxFusionToolOptions = { ...rest, files: await encodeFiles(files) };
    if (opts.requestTimeoutMs <= opts.runTimeoutSeconds * 1000) {
      ctx.log.warn(
        `sandbox-fusion: requestTimeoutMs (${opts.requestTimeoutMs}) <= runTimeoutSeconds (${opts.runTimeoutSeconds} s): long programs will time out on the client and be retried`,
      );
    }
    return new SandboxFusionTool(opts, ctx.log, ctx.signal);
  },
});

export default definePlugin({
  meta: {
    name: 'agent0/sandbox-fusion',
    version: '0.1.0',
    description: 'SandboxFusion client tool: remote code execution over POST /run_code',
  },
  components: [sandboxFusion],
});
