import { defineComponent, definePlugin, type Tool } from '../../core/index.js';
import { ToolLoop } from '../shared/tool-loop.js';
import { toolLoopSchema } from '../shared/tool-loop-options.js';

export const toolLoop = defineComponent({
  kind: 'agent-loop',
  name: 'tool-loop',
  description:
    'multi-turn tool-integrated rollout over any engine: generate until an action stop string, run the tool, append the masked observation, go on',
  options: toolLoopSchema,
  async create(o, ctx) {
    const tools: Tool[] = [];
    for (const name of o.tools) tools.push(await ctx.get(name, 'tool'));
    return new ToolLoop(tools, o);
  },
});

export default definePlugin({
  meta: { name: 'agent0/agent-loop', version: '0.1.0', description: 'multi-turn tool-integrated agent loop' },
  components: [toolLoop],
});
