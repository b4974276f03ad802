import type { Completion, GenerateOptions, RolloutEngine, SamplingParams, TokenEvent } from '../contracts/policy.js';

/**
 * Generates with `engine`, telling `onToken` of every token: while decoding when the engine has a
 * streaming path, else all at once when the batch is done (row by row, so each row's tokens still
 * come in order). Either way every event precedes the result.
 */
export async function generateStreaming(
  engine: RolloutEngine,
  prompts: number[][],
  params: SamplingParams,
  onToken: (e: TokenEvent) => void,
  opts?: GenerateOptions,
): Promise<Completion[]> {
  if (engine.generateStream) return engine.generateStream(prompts, params, onToken, opts);
  const out = await engine.generate(prompts, params, opts);
  out.forEach((c, row) => {
    c.tokenIds.forEach((tokenId, t) => {
      const top = c.topLogProbs?.[t];
      onToken({ row, tokenId, logProb: c.logProbs[t] ?? NaN, ...(top ? { topLogProbs: top } : {}) });
    });
  });
  return out;
}
