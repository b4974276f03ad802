import { Ajv } from 'ajv';
import rewards from '../../../plugins/rewards/index.js';
import type {
  ComponentContext,
  RewardFunction,
  RewardSample,
  Task,
  Trajectory,
  Verifier,
} from '../../../core/index.js';

const ajv = new Ajv({ useDefaults: true, strict: false });

/**
 * A small verifier for hand-worked cases: the last \boxed{...} (no nesting) is the answer, and
 * two answers are equal when they are the same number or the same trimmed string.
 */
export const numberVerifier: Verifier & { calls: number } = {
  calls: 0,
  extract(response: string): string | null {
    const all = [...response.matchAll(/\\boxed\{([^{}]*)\}/g)];
    return all.length === 0 ? null : (all[all.length - 1]![1] as string).trim();
  },
  async equivalent(gold: string, pred: string): Promise<boolean> {
    this.calls++;
    const a = gold.trim(),
      b = pred.trim();
    if (a === b) return true;
    return a !== '' && b !== '' && Number.isFinite(Number(a)) && Number(a) === Number(b);
  },
  async verify(gold: string, response: string) {
    const extracted = this.extract(response);
    return { correct: extracted !== null && (await this.equivalent(gold, extracted)), extracted };
  },
};

/**
 * Builds a reward component as a recipe would: schema defaults filled and options validated; `instances` answers
 * ctx.get.
 */
export async function buildReward(
  name: string,
  options: Record<string, unknown> = {},
  instances: Record<string, unknown> = {},
): Promise<RewardFunction> {
  const def = rewards.components.find((c) => c.kind === 'reward' && c.name === name);
  if (!def) throw new Error(`no component reward/${name}`);
  const opts = structuredClone(options);
  const validate = ajv.compile(def.options);
  if (!validate(opts)) throw new Error(`invalid options for reward/${name}: ${ajv.errorsText(validate.errors)}`);
  const all: Record<string, unknown> = { verifier: numberVerifier, ...instances };
  const ctx = {
    name: `test-${name}`,
    get: async (n: string) => {
      if (!(n in all)) throw new Error(`no component named '${n}'`);
      return all[n];
    },
    has: (n: string) => n in all,
  } as unknown as ComponentContext;
  return def.create(opts, ctx) as Promise<RewardFunction>;
}

export function validates(name: string, options: Record<string, unknown>): boolean {
  const def = rewards.components.find((c) => c.kind === 'reward' && c.name === name)!;
  return ajv.compile(def.options)(structuredClone(options)) as boolean;
}

export function traj(over: Partial<Trajectory> = {}): Trajectory {
  return {
    id: 't',
    groupId: 'g',
    promptIds: [],
    responseIds: [],
    responseMask: [],
    logProbs: [],
    text: '',
    stopReason: 'answer',
    turns: 1,
    toolCalls: 0,
    toolErrors: 0,
    fields: {},
    metrics: {},
    ...over,
  };
}

export function sample(response: string, task: Partial<Task> = {}, over: Partial<RewardSample> = {}): RewardSample {
  return { response, task: { id: 'q', problem: 'p', ...task }, ...over };
}
