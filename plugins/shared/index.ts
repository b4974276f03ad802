/**
 * The shared layer between core and the plugins: infrastructure several plugins need, written once.
 * It registers no component. Plugins (built-in or third-party) may import it; it imports only core.
 */
export { boxedSpans, lastBoxed, type BoxOptions, type BoxSpan } from './boxed.js';
export { parseCodeAction, parseCodeToolAction, type CodeAction } from './code-action.js';
export { backoffMs, pause } from './backoff.js';
export {
  errorDetail,
  HttpAttemptError,
  HttpCancelledError,
  JsonEndpoint,
  type EndpointOptions,
  type FailureKind,
} from './json-endpoint.js';
export { startWorkerBeside } from './worker.js';
export { ToolLoop, type SampleStreams, type ToolLoopOptions } from './tool-loop.js';
export { toolLoopSchema } from './tool-loop-options.js';
export { truncateIds, formatObservation as fillObservationTemplate, type TruncateSide } from './truncate.js';
export {
  retryPolicySchema,
  withRetries,
  type RetryHooks,
  type RetryOutcome,
  type RetryPolicy,
  type RetryVerdict,
} from './retry.js';
export { LeastBusy } from './least-busy.js';
export { questionSpan } from './question.js';
