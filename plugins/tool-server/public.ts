/** The tool server and its client, usable without DI. */
export { startToolServer, type ToolServerHandle, type ToolServerOptions } from './server.js';
export { ToolDispatcher, type ToolSet, type DispatcherOptions as ToolDispatcherOptions } from './dispatcher.js';
export {
  parseObservationRequest,
  BadRequestError as ToolServerBadRequestError,
  type ObservationRequest,
  type ObservationResponse,
  type ActionItem,
} from './protocol.js';
export { RemoteTools, type RemoteToolsOptions } from './remote.js';
export { serveTools } from './command.js';
