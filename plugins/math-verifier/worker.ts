import { parentPort } from 'node:worker_threads';
import { compareAnswers, type CompareOptions, type SymbolicCheck } from './compare.js';
import { loadSymbolic } from './symbolic.js';

/** One comparison request from the pool. */
export interface CompareRequest {
  id: number;
  gold: string;
  pred: string;
  options: CompareOptions;
  symbolic: boolean;
}
export type CompareReply = { ready: true } | { id: number; result: boolean; error?: string };

const port = parentPort;
if (!port) throw new Error('math-verifier worker: not started as a worker thread');

// compute-engine reports some parse failures on the console; a worker's console would reach the
// parent's stderr once per comparison, so it stays silent (verdicts are the only output)
for (const k of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) console[k] = () => undefined;

// loaded before announcing readiness, so that no comparison's timeout pays for the import
let symbolic: SymbolicCheck | undefined;
try {
  symbolic = await loadSymbolic();
} catch {
  symbolic = undefined;
}

port.on('message', (m: CompareRequest) => {
  let reply: CompareReply;
  try {
    reply = { id: m.id, result: compareAnswers(m.gold, m.pred, m.options, m.symbolic ? symbolic : undefined) };
  } catch (e) {
    reply = { id: m.id, result: false, error: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(reply);
});
port.postMessage({ ready: true } satisfies CompareReply);
