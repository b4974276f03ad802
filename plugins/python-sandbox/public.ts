/** The python sandbox without DI: a warm, isolated worker pool and its tool. */
export {
  PythonSandbox,
  IsolationUnavailableError,
  type SandboxOptions,
  type SandboxInfo,
  type IsolationPolicy,
} from './sandbox.js';
export { PythonTool, type PythonToolOptions } from './tool.js';
export { observationOf as pythonObservation, type ObservationCaps } from './action.js';
export { VERL_TOOL_MODULES, type PreImport } from './preimport.js';
export { pythonToolDefaults, DEFAULT_WARMUP } from './options.js';
export { runSandboxBench, type SandboxBenchResult, type LatencyStats } from './bench.js';
export type { ExecResult, ExecStatus, RunLimits } from './worker.js';
