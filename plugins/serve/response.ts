import type { Completion, Tokenizer, TopLogProb } from '../../core/index.js';
import type { GenRequest } from './request.js';

/** One turn of a tool-integrated answer: model text, or a tool's observation. */
export interface Turn {
  role: 'assistant' | 'tool';
  content: string;
}

/** What one choice carries, from a plain completion or a whole agent trajectory. */
export interface ChoiceResult {
  completion: Completion;
  /** Tool mode: the turns, and the loop's own account of how it ended. */
  turns?: Turn[];
  agent?: { stop_reason: string; turns: number; tool_calls: number; tool_errors: number };
}

export interface Shaped {
  text: string;
  finish_reason: string;
  stop_reason: string | null;
}

/** Whether `id` ended generation as an end-of-sequence or stop token. */
export function isStopToken(id: number, req: GenRequest, tok: Tokenizer): boolean {
  return tok.eosIds.includes(id) || (req.sampling.stopTokenIds?.includes(id) ?? false);
}

/** Decodes with the request's skip_special_tokens (tokenizers without specials ignore it). */
export function decodeFor(req: GenRequest, tok: Tokenizer, ids: readonly number[]): string {
  return tok.decode(ids, { skipSpecialTokens: req.skipSpecialTokens });
}

/**
 * The text a client sees, with vLLM's semantics: the stop string is cut unless
 * `include_stop_str_in_output`; so is the text of the end-of-sequence (or stop) token that ended
 * generation; special tokens' text goes with `skip_special_tokens` (the default).
 */
function visibleText(c: Completion, req: GenRequest, tok: Tokenizer): string {
  const last = c.tokenIds.at(-1);
  const dropLast = c.finishReason === 'eos' && !req.includeStopStr && last !== undefined && isStopToken(last, req, tok);
  const ids = dropLast ? c.tokenIds.slice(0, -1) : c.tokenIds;
  if (c.finishReason === 'stop' && c.stopString) {
    // The policy's own text ends right after the stop string; a re-decoded one may run past it.
    const text = req.skipSpecialTokens ? decodeFor(req, tok, ids) : c.text;
    const at = req.skipSpecialTokens ? text.indexOf(c.stopString) : text.length - c.stopString.length;
    if (at < 0 || !text.startsWith(c.stopString, at)) return text;
    return text.slice(0, req.includeStopStr ? at + c.stopString.length : at);
  }
  if (!req.skipSpecialTokens && !dropLast) return c.text;
  return decodeFor(req, tok, ids);
}

/** A tool-mode answer's text is the trajectory's, less a final end-of-sequence token's text. */
function trajectoryText(c: Completion, req: GenRequest, tok: Tokenizer): string {
  const last = c.tokenIds.at(-1);
  let text = c.text;
  if (c.finishReason === 'eos' && last !== undefined && isStopToken(last, req, tok)) {
    const eosText = tok.decode([last]);
    if (eosText && text.endsWith(eosText)) text = text.slice(0, text.length - eosText.length);
  }
  return text;
}

export function shape(r: ChoiceResult, req: GenRequest, tok: Tokenizer): Shaped {
  const c = r.completion;
  const text = r.turns ? trajectoryText(c, req, tok) : visibleText(c, req, tok);
  const finish = c.finishReason === 'length' ? 'length' : c.finishReason === 'abort' ? 'abort' : 'stop';
  return { text, finish_reason: finish, stop_reason: c.finishReason === 'stop' ? (c.stopString ?? null) : null };
}

/** JSON has no NaN: unknown log-probs are sent as null; -Infinity as OpenAI's floor. */
const finite = (x: number): number | null => (Number.isNaN(x) ? null : Math.max(x, -9999));

/** One token's entries: `k` = the alternatives the request asked for (null: none). */
export interface TokenLp {
  id: number;
  logProb: number;
  top?: TopLogProb[];
}

/**
 * Completions' logprobs for a run of tokens starting `offset` characters into the text. Each
 * `top_logprobs` entry holds the sampled token and the k most likely ones, as OpenAI and vLLM
 * send them (up to k + 1 entries).
 */
export function completionLogprobs(toks: TokenLp[], k: number, tok: Tokenizer, offset = 0) {
  const tokens: string[] = [];
  const offsets: number[] = [];
  let at = offset;
  for (const t of toks) {
    const s = tok.decode([t.id]);
    tokens.push(s);
    offsets.push(at);
    at += s.length;
  }
  const top = toks.map((t, i) => {
    const entry: Record<string, number | null> = { [tokens[i] as string]: finite(t.logProb) };
    for (const a of (t.top ?? []).slice(0, k)) {
      const s = tok.decode([a.id]);
      if (!(s in entry)) entry[s] = finite(a.logProb);
    }
    return entry;
  });
  return { tokens, token_logprobs: toks.map((t) => finite(t.logProb)), top_logprobs: top, text_offset: offsets };
}

const bytesOf = (s: string): number[] => [...Buffer.from(s, 'utf8')];

/** Chat's logprobs: each token with exactly the k most likely alternatives. */
export function chatLogprobs(toks: TokenLp[], k: number, tok: Tokenizer) {
  return {
    content: toks.map((t) => {
      const token = tok.decode([t.id]);
      const top = (t.top ?? []).slice(0, k).map((a) => {
        const s = tok.decode([a.id]);
        return { token: s, logprob: finite(a.logProb), bytes: bytesOf(s) };
      });
      return { token, logprob: finite(t.logProb), bytes: bytesOf(token), top_logprobs: top };
    }),
  };
}

export function tokensOf(c: Completion): TokenLp[] {
  return c.tokenIds.map((id, t) => {
    const top = c.topLogProbs?.[t];
    return { id, logProb: c.logProbs[t] ?? NaN, ...(top ? { top } : {}) };
  });
}

/** vLLM's extensions (token ids, per choice) and tool mode's turns. */
export function extras(r: ChoiceResult, index: number, req: GenRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (req.returnTokenIds) {
    out.prompt_token_ids = req.prompts[Math.floor(index / req.n)];
    out.token_ids = r.completion.tokenIds;
  }
  if (r.turns) out.turns = r.turns;
  if (r.agent) out.agent0 = r.agent;
  return out;
}

export function usage(req: GenRequest, results: ChoiceResult[]) {
  const prompt = req.prompts.reduce((s, p) => s + p.length, 0);
  const completion = results.reduce((s, r) => s + r.completion.tokenIds.length, 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** The non-streaming body; results[i * n + j] is sample j of prompt i. */
export function responseBody(
  req: GenRequest,
  id: string,
  created: number,
  results: ChoiceResult[],
  tok: Tokenizer,
): Record<string, unknown> {
  const k = req.logprobs ?? 0;
  const choices = results.map((r, index) => {
    const s = shape(r, req, tok);
    if (req.api === 'completions') {
      const lp = req.logprobs === null ? null : completionLogprobs(tokensOf(r.completion), k, tok);
      return {
        index,
        text: s.text,
        logprobs: lp,
        finish_reason: s.finish_reason,
        stop_reason: s.stop_reason,
        ...extras(r, index, req),
      };
    }
    return {
      index,
      message: { role: 'assistant', content: s.text },
      logprobs: req.logprobs === null ? null : chatLogprobs(tokensOf(r.completion), k, tok),
      finish_reason: s.finish_reason,
      stop_reason: s.stop_reason,
      ...extras(r, index, req),
    };
  });
  return {
    id,
    object: req.api === 'completions' ? 'text_completion' : 'chat.completion',
    created,
    model: req.model,
    choices,
    usage: usage(req, results),
  };
}
