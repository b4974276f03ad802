import { defineComponent, definePlugin } from '../../core/index.js';
import { benchSandboxCommand, sandboxExecCommand } from './commands.js';
import { PYTHON_TOOL_SCHEMA } from './options.js';
import { PythonTool } from './tool.js';

export const pythonTool = defineComponent({
  kind: 'tool',
  name: 'python',
  description:
    'runs ```python blocks in warm, isolated, rlimited Python workers: bubblewrap, else CPython in WebAssembly (stateless or per-trajectory state)',
  options: PYTHON_TOOL_SCHEMA,
  async create(o, ctx) {
    const tool = await PythonTool.create(ctx.name, o, (m) => ctx.log.warn(m));
    // Which isolation runs model-written code, for the log and for the run's report (a metric record).
    const d = tool.describe();
    const missing = (d.missing as string[]).join('; ');
    ctx.log.info(
      `tool ${ctx.name}: model-written code runs under isolation ${String(d.isolation)} (${String(d.python)})${missing ? `; not isolated against: ${missing}` : ''}`,
    );
    await ctx.metrics.log({
      stage: 'tool',
      iteration: 0,
      tool: ctx.name,
      isolation: String(d.isolation),
      python: String(d.python),
      missing,
    });
    return tool;
  },
});

export default definePlugin({
  meta: {
    name: 'agent0/python-sandbox',
    version: '0.1.0',
    description: 'isolated Python sandbox tool with warm workers',
  },
  components: [pythonTool],
  commands: [sandboxExecCommand, benchSandboxCommand],
});
