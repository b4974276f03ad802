import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineComponent, definePlugin, type PipelineStage, type Tool } from '../../core/index.js';

/** A counter tool whose state lives in the instance: shows whether two runs share instances. */
export class CounterTool implements Tool {
  readonly name = 'counter';
  calls = 0;
  constructor(readonly step: number) {}
  parseAction(text: string) {
    return { valid: text.startsWith('count'), action: text };
  }
  async conductAction() {
    this.calls += this.step;
    return { observation: String(this.calls), done: false, valid: true };
  }
  async finish() {}
  disposed = false;
  dispose() {
    this.disposed = true;
  }
}

export const created: CounterTool[] = [];

export const testPlugin = definePlugin({
  meta: { name: 'agent0/test-fixture', version: '1.2.3' },
  components: [
    defineComponent({
      kind: 'tool',
      name: 'counter',
      description: 'counts calls',
      options: {
        type: 'object',
        additionalProperties: false,
        required: ['label'],
        properties: { label: { type: 'string' }, step: { type: 'integer', minimum: 1, default: 1 } },
      },
      create: (o: { step: number }) => {
        const t = new CounterTool(o.step);
        created.push(t);
        return t;
      },
    }),
    defineComponent({
      kind: 'tool',
      name: 'linked',
      description: 'a tool that needs another instance while it is created (by x-ref, or by a plain name)',
      options: {
        type: 'object',
        additionalProperties: false,
        properties: { peer: { type: 'string', 'x-ref': 'tool' }, peerName: { type: 'string' } },
      },
      create: async (o: { peer?: string; peerName?: string }, ctx) => {
        const name = o.peer ?? o.peerName;
        if (name) await ctx.get(name, 'tool');
        return new CounterTool(1);
      },
    }),
    defineComponent({
      kind: 'stage',
      name: 'touch',
      description: 'calls the tool and records the observation',
      options: {
        type: 'object',
        additionalProperties: false,
        properties: {
          tool: { type: 'string', 'x-ref': 'tool', default: 'counter' },
          failAt: { type: 'integer', default: 0 },
        },
      },
      create: (o: { tool: string; failAt: number }): PipelineStage => ({
        async run(ctx) {
          const tool = await ctx.get(o.tool, 'tool');
          const r = await tool.conductAction(ctx.key, 'count');
          if (o.failAt > 0 && o.failAt === ctx.iteration) throw new Error(`boom at ${ctx.key}`);
          await fs.writeFile(path.join(ctx.dir, 'out.txt'), r.observation);
          await ctx.metrics.log({ stage: ctx.name, iteration: ctx.iteration, value: Number(r.observation) });
          return { summary: { value: Number(r.observation) } };
        },
      }),
    }),
  ],
});

export async function tmpDir(prefix = 'agent0-test-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Writes recipe files into a temp folder; returns the folder. */
export async function writeRecipes(files: Record<string, string>): Promise<string> {
  const dir = await tmpDir('agent0-recipes-');
  for (const [name, text] of Object.entries(files)) await fs.writeFile(path.join(dir, name), text);
  return dir;
}
