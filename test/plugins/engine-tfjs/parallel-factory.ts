import type { TfjsPolicyOptions, TfjsPolicy } from '../../../plugins/engine-tfjs/policy.js';
import { selectBackend, type BackendChoice } from '../../../plugins/engine-tfjs/backend/select.js';
import { testPolicy } from './helpers.js';

/** Worker-side factory for parallel.test.ts: the same policy testPolicy() builds in the main thread. */
export async function testPolicyInWorker(args: {
  seed: number;
  backend: BackendChoice;
  opts: Partial<TfjsPolicyOptions>;
}): Promise<TfjsPolicy> {
  await selectBackend(args.backend);
  return testPolicy(args.seed, args.opts);
}
