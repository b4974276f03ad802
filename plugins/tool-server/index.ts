import { defineComponent, definePlugin } from '../../core/index.js';
import { benchToolServerCommand } from './bench.js';
import { toolServerCommand } from './command.js';
import { remoteToolsSchema } from './options.js';
import { actionPattern, RemoteTools } from './remote.js';

const remoteTools = defineComponent({
  kind: 'tool',
  name: 'remote-tools',
  description:
    'parses actions locally and runs them on a VeRL-Tool-compatible server (POST /get_observation), batching concurrent calls',
  options: remoteToolsSchema,
  create: (o, ctx) => {
    actionPattern(o.pattern);
    return new RemoteTools(o, ctx.log);
  },
});

export default definePlugin({
  meta: {
    name: 'agent0/tool-server',
    version: '0.1.0',
    description: 'VeRL-Tool-compatible tool server (agent0 tool-server) and the remote-tools client tool',
  },
  components: [remoteTools],
  commands: [toolServerCommand, benchToolServerCommand],
});
