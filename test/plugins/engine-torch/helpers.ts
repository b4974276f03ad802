import { Ajv } from 'ajv';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ComponentContext, memoryLogger } from '../../../core/index.js';
import { createTorchPolicy } from '../../../plugins/engine-torch/create.js';
import { findPython } from '../../../plugins/engine-torch/launch.js';
import { type TorchPolicyOptions, torchOptionsSchema } from '../../../plugins/engine-torch/options.js';
import type { TorchPolicy } from '../../../plugins/engine-torch/policy.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const FIXTURE = path.join(ROOT, 'test/fixtures/qwen3-tiny');

const ajv = new Ajv({ useDefaults: true, strict: false });
const validate = ajv.compile(torchOptionsSchema);

/** policy/torch options as a recipe would give them: schema defaults filled, validated. */
export function torchOptions(o: Record<string, unknown>): TorchPolicyOptions {
  const opts = structuredClone(o);
  if (!validate(opts)) throw new Error(`invalid policy/torch options: ${ajv.errorsText(validate.errors)}`);
  return opts as unknown as TorchPolicyOptions;
}

export const logLines: string[] = [];
export const quietLog = memoryLogger(logLines, 'torch-test');

export async function torchPolicy(o: Record<string, unknown>, name = 'executor', seed = 0): Promise<TorchPolicy> {
  const ctx = {
    name,
    seed,
    log: quietLog,
    get: () => {
      throw new Error('no components here');
    },
  } as unknown as ComponentContext;
  return (await createTorchPolicy(torchOptions(o), ctx)) as TorchPolicy;
}

/**
 * Whether a Python with torch is here. CI installs Debian's python3-torch and sets
 * AGENT0_REQUIRE_TORCH=1, so a missing torch fails there instead of skipping.
 */
export function torchAvailable(): boolean {
  try {
    findPython(null);
    return true;
  } catch (e) {
    if (process.env.AGENT0_REQUIRE_TORCH === '1') throw e;
    return false;
  }
}
