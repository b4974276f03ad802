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
