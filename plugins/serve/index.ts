import { definePlugin } from '../../core/index.js';
import { benchServeCommand } from './bench.js';
import { serveCommand } from './command.js';

export default definePlugin({
  meta: {
    name: 'agent0/serve',
    version: '0.1.0',
    description: '`agent0 serve`: an OpenAI-compatible server for a policy, with a tool-integrated mode',
  },
  components: [],
  commands: [serveCommand, benchServeCommand],
});
