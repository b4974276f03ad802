import { OpenAIRolloutEngine } from '../../../plugins/openai-engine/engine.js';
import { openAIEngineSchema, type OpenAIEngineOptions } from '../../../plugins/openai-engine/options.js';
import { charTokenizer } from '../serve/doubles.js';

/** The schema's defaults, with fast retries for tests, overridden by `o`. */
export function engineOptions(o: Partial<OpenAIEngineOptions>): OpenAIEngineOptions {
  const props = openAIEngineSchema.properties as Record<string, { default?: unknown }>;
  const defaults = Object.fromEntries(Object.entries(props).map(([k, s]) => [k, structuredClone(s.default)]));
  return { ...defaults, backoffBaseMs: 1, backoffMaxMs: 5, cooldownMs: 1000, ...o } as OpenAIEngineOptions;
}

export function makeEngine(o: Partial<OpenAIEngineOptions>): OpenAIRolloutEngine {
  return new OpenAIRolloutEngine(engineOptions(o), charTokenizer, { rand: () => 1 });
}
