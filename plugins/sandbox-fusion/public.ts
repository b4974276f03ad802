/**
 * The SandboxFusion client and its wire format, usable without DI (names prefixed to stay unique in the package entry).
 */
export {
  SandboxFusionClient,
  SandboxUnavailableError,
  CancelledError as SandboxFusionCancelledError,
  type ClientOptions as SandboxFusionClientOptions,
  type EndpointStats as SandboxFusionEndpointStats,
} from './client.js';
export {
  parseRunCodeResponse,
  ProtocolError as SandboxFusionProtocolError,
  type RunCodeRequest,
  type RunCodeResponse,
  type RunStatus as SandboxFusionRunStatus,
  type CommandRunResult as SandboxFusionCommandResult,
} from './protocol.js';
export {
  SandboxFusionTool,
  type SandboxFusionToolOptions,
  type ExecOutcome as SandboxFusionExecOutcome,
} from './tool.js';
