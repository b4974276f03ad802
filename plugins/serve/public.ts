/** Building blocks of `agent0 serve`, for embedding the server in a script. */
export { BatchingEngine, type BatcherOptions, type BatcherStats } from './batcher.js';
export { createServer, listen, TOOLS_SUFFIX, type RunningServer, type ServerOptions } from './server.js';
export { startServe, type Serving } from './command.js';
