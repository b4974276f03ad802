import { defineComponent, definePlugin } from '../../core/index.js';
import { benchSandboxCommand, sandboxExecCommand } from './commands.js';
import { PYTHON_TOOL_SCHEMA } from './options.js';
import { PythonTool, type PythonToolOptions } from './tool.js';

export const pythonTool = defineComponent({
  kind: 'tool',
  name: 'python',
  description: 'runs ```python blocks in warm, bubblewrap-isolated, rlimited Python workers (stateless or per-trajectory state)',
  options: PYTHON_TOOL_SCHEMA,
  create: (o: PythonToolOptions, ctx) => PythonTool.create(ctx.name, o, (m) => ctx.log.warn(m)),
});

export default definePlugin({
  meta: { name: 'agent0/python-sandbox', version: '0.1.0', description: 'isolated Python sandbox tool with warm workers' },
  components: [pythonTool],
  commands: [sandboxExecCommand, benchSandboxCommand],
});
