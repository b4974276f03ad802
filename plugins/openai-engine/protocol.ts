import type { Completion, FinishReason, SamplingParams, Tokenizer } from '../../core/index.js';

/** What shapes one request body, besides the prompt and the sampling parameters. */
export interface BodyOptions {
  api: 'completions' | 'chat';
  model: string;
  promptFormat: 'token-ids' | 'text';
  returnTokenIds: boolean;
  tokensAsTokenIds: boolean;
  includeStopStrInOutput: boolean;
  skipSpecialTokens: boolean | null;
  logprobs: boolean;
  promptLogprobs: number | null;
  extraBody: Record<string, unknown>;
}

/** A malformed or inconsistent answer (retryable: proxies and overloaded servers produce them). */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** The JSON body of one `/completions` or `/chat/completions` request for `n` samples of one prompt. */
export function buildRequestBody(
  promptIds: number[],
  n: number,
  params: SamplingParams,
  opts: BodyOptions,
  tokenizer: Tokenizer,
): Record<string, unknown> {
  const body: Record<string, unknown> = { model: opts.model, n, max_tokens: params.maxNewTokens };
  if (opts.api === 'chat') {
    body.messages = [{ role: 'user', content: tokenizer.decode(promptIds) }];
    if (opts.logprobs) body.logprobs = true;
  } else {
    body.prompt = opts.promptFormat === 'token-ids' ? promptIds : tokenizer.decode(promptIds);
    // 0 alternatives: the sampled token's log-prob alone, which is all training reads.
    if (opts.logprobs) body.logprobs = 0;
  }
  if (params.temperature !== undefined) body.temperature = params.temperature;
  if (params.topP !== undefined) body.top_p = params.topP;
  if (params.topK !== undefined && params.topK > 0) body.top_k = params.topK;
  if (params.seed !== undefined) body.seed = params.seed;
  if (params.stop && params.stop.length > 0) body.stop = params.stop;
  if (params.stopTokenIds && params.stopTokenIds.length > 0) body.stop_token_ids = params.stopTokenIds;
  if (opts.includeStopStrInOutput) {
    // vLLM's name and SGLang's: each server ignores the other's field.
    body.include_stop_str_in_output = true;
    body.no_stop_trim = true;
  }
  // Both servers default to true, which drops special tokens' text: ids re-encoded from it lose them.
  if (opts.skipSpecialTokens !== null) body.skip_special_tokens = opts.skipSpecialTokens;
  if (opts.returnTokenIds) body.return_token_ids = true;
  if (opts.tokensAsTokenIds) body.return_tokens_as_token_ids = true;
  if (opts.promptLogprobs !== null) body.prompt_logprobs = opts.promptLogprobs;
  return { ...body, ...opts.extraBody };
}

interface RawChoice {
  index?: unknown;
  text?: unknown;
  message?: { content?: unknown };
  logprobs?: unknown;
  finish_reason?: unknown;
  stop_reason?: unknown;
  matched_stop?: unknown;
  token_ids?: unknown;
}

/** A log-prob this far above 0 is a server's rounding; beyond it the answer is wrong. */
export const LOGPROB_SLACK = 1e-4;

/** Per-token (token string, log-prob) pairs from either API's logprobs object; null when absent. */
function tokenLogprobs(lp: unknown): { tokens: string[]; logProbs: number[] } | null {
  if (!lp || typeof lp !== 'object') return null;
  const o = lp as { tokens?: unknown; token_logprobs?: unknown; content?: unknown };
  let out: { tokens: string[]; raw: unknown[] } | null = null;
  if (Array.isArray(o.tokens) && Array.isArray(o.token_logprobs))
    out = { tokens: o.tokens.map(String), raw: o.token_logprobs };
  else if (Array.isArray(o.content)) {
    const c = o.content as { token?: unknown; logprob?: unknown }[];
    out = { tokens: c.map((e) => String(e?.token)), raw: c.map((e) => e?.logprob) };
  }
  if (!out) return null;
  // Training divides by exp(log-prob): a positive, infinite or missing one poisons it much later.
  const logProbs = out.raw.map((v, t) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v > LOGPROB_SLACK)
      throw new ProtocolError(`log-prob ${t} is ${JSON.stringify(v)}, not a finite number <= 0`);
    return Math.min(v, 0);
  });
  return { tokens: out.tokens, logProbs };
}

/**
 * Re-encoding a server's text may split it differently from the sampler, by a few tokens either way;
 * text that re-encodes to more than twice max_tokens plus this many tokens cannot be what was sampled.
 */
export const REENCODE_SLACK = 16;

/** Ids the server claims it sampled: tokens of the model's vocabulary, at most as many as asked for. */
function checkIds(ids: number[], params: SamplingParams, vocabSize: number): number[] {
  if (ids.length > params.maxNewTokens)
    throw new ProtocolError(`${ids.length} token ids for max_tokens ${params.maxNewTokens}`);
  const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
  if (bad !== undefined)
    throw new ProtocolError(`token id ${JSON.stringify(bad)} is not in the vocabulary [0, ${vocabSize})`);
  return ids;
}

/**
 * Ids from vLLM's `return_tokens_as_token_ids` tokens ('token_id:123'); null when any token is not in
 * that form, or when there is none (an empty list says nothing about the text beside it).
 */
function idsFromTokenStrings(tokens: string[]): number[] | null {
  if (tokens.length === 0) return null;
  const ids: number[] = [];
  for (const t of tokens) {
    const m = /^token_id:(\d+)$/.exec(t);
    if (!m) return null;
    ids.push(Number(m[1]));
  }
  return ids;
}

/**
 * One choice -> a core Completion. Token ids come from the server when it returns them
 * (`token_ids`, or 'token_id:N' logprob tokens), else from encoding the text. Stop strings are
 * kept in the text as the contract asks, appended when the server stripped them.
 */
export function parseChoice(
  raw: unknown,
  params: SamplingParams,
  tokenizer: Tokenizer,
  vocabSize = tokenizer.vocabSize,
): Completion {
  if (!raw || typeof raw !== 'object') throw new ProtocolError('a choice is not an object');
  const c = raw as RawChoice;
  const content = 'text' in c ? c.text : c.message?.content;
  if (typeof content !== 'string')
    throw new ProtocolError(
      `a choice's text is ${content === undefined ? 'missing' : JSON.stringify(content)}, not a string`,
    );
  let text = content;
  const lp = tokenLogprobs(c.logprobs);
  let ids: number[] | null = null;
  if (c.token_ids !== undefined && c.token_ids !== null) {
    if (!Array.isArray(c.token_ids)) throw new ProtocolError('token_ids is not a list');
    ids = checkIds([...c.token_ids] as number[], params, vocabSize);
  }
  if (!ids && lp) {
    const fromTokens = idsFromTokenStrings(lp.tokens);
    if (fromTokens) ids = checkIds(fromTokens, params, vocabSize);
  }
  // Re-encoding the text is the last resort: it may not split tokens as the sampler did, and
  // the server's log-probs then only line up with our ids when the counts agree.
  if (!ids) {
    ids = tokenizer.encode(content);
    if (ids.length > 2 * params.maxNewTokens + REENCODE_SLACK)
      throw new ProtocolError(`the text re-encodes to ${ids.length} tokens for max_tokens ${params.maxNewTokens}`);
  }
  let logProbs: number[] = lp && lp.logProbs.length === ids.length ? lp.logProbs : ids.map(() => NaN);

  const fr = typeof c.finish_reason === 'string' ? c.finish_reason : null;
  if (fr === null) throw new ProtocolError('a choice has no finish_reason');
  let finishReason: FinishReason;
  let stopString: string | undefined;
  if (fr === 'length') finishReason = 'length';
  else if (fr === 'abort') finishReason = 'abort';
  else {
    const reason = c.stop_reason ?? c.matched_stop;
    if (typeof reason === 'string') {
      // Only a stop string this request sent can have ended it; appending any other would add text nobody sampled.
      if (!(params.stop ?? []).includes(reason))
        throw new ProtocolError(
          `stopped on ${JSON.stringify(reason.length > 40 ? `${reason.slice(0, 40)}...` : reason)}, a stop string that was not asked for`,
        );
      stopString = reason;
    } else if (typeof reason !== 'number')
      stopString = (params.stop ?? []).find((s) => s.length > 0 && text.endsWith(s));
    finishReason = stopString !== undefined ? 'stop' : 'eos';
    if (stopString !== undefined && !text.endsWith(stopString)) {
      text += stopString;
      // Servers that trim the stop string from the text often still return its sampled ids.
      if (!tokenizer.decode(ids).endsWith(stopString)) {
        const extra = tokenizer.encode(stopString);
        ids = [...ids, ...extra];
        logProbs = [...logProbs, ...extra.map(() => NaN)];
      }
    }
  }
  const out: Completion = {
    tokenIds: ids,
    text,
    logProbs,
    finishReason,
  };
  if (stopString !== undefined) out.stopString = stopString;
  return out;
}

/**
 * The `n` choices of one response, in index order. Throws ProtocolError unless each index
 * 0..n-1 appears exactly once, so no sample is silently lost or duplicated.
 */
export function parseResponse(
  json: unknown,
  n: number,
  params: SamplingParams,
  tokenizer: Tokenizer,
  vocabSize = tokenizer.vocabSize,
): Completion[] {
  if (!json || typeof json !== 'object' || !Array.isArray((json as { choices?: unknown }).choices)) {
    throw new ProtocolError('the response has no choices array');
  }
  const choices = (json as { choices: unknown[] }).choices;
  if (choices.length !== n) throw new ProtocolError(`asked for ${n} choices, got ${choices.length}`);
  const out: (Completion | undefined)[] = new Array(n);
  for (let j = 0; j < choices.length; j++) {
    const ch = choices[j] as RawChoice;
    const idx = ch && typeof ch === 'object' && ch.index !== undefined ? ch.index : j;
    if (!Number.isInteger(idx) || (idx as number) < 0 || (idx as number) >= n)
      throw new ProtocolError(`choice index ${String(idx)} is out of range 0..${n - 1}`);
    if (out[idx as number]) throw new ProtocolError(`choice index ${String(idx)} appears twice`);
    try {
      out[idx as number] = parseChoice(ch, params, tokenizer, vocabSize);
    } catch (e) {
      throw e instanceof ProtocolError ? new ProtocolError(`choice ${String(idx)}: ${e.message}`) : e;
    }
  }
  return out as Completion[];
}
