import type { Completion, Tokenizer } from '../../core/index.js';
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

interface Shaped {
  text: string;
  finish_reason: string;
  stop_reason: string | null;
}

/**
 * OpenAI semantics: the stop string is cut from the text unless `include_stop_str_in_output`,
 * and an end-of-sequence token never shows in the text (its id stays in `token_ids`).
 */
function shape(c: Completion, req: GenRequest, tok: Tokenizer): Shaped {
  let text = c.text;
  if (c.finishReason === 'stop' && c.stopString && !req.includeStopStr && text.endsWith(c.stopString)) {
    text = text.slice(0, text.length - c.stopString.length);
  }
  const last = c.tokenIds.at(-1);
  if (c.finishReason === 'eos' && last !== undefined && (tok.eosIds.includes(last) || req.sampling.stopTokenIds?.includes(last))) {
    const eosText = tok.decode([last]);
    if (eosText && text.endsWith(eosText)) text = text.slice(0, text.length - eosText.length);
  }
  const finish = c.finishReason === 'length' ? 'length' : c.finishReason === 'abort' ? 'abort' : 'stop';
  return { text, finish_reason: finish, stop_reason: c.finishReason === 'stop' ? (c.stopString ?? null) : null };
}

/**
 * Text pieces, one per token, that concatenate to exactly `text`: each token's piece is what
 * decoding up to it adds, so a character split across byte-level tokens lands in one piece.
 */
export function tokenPieces(ids: readonly number[], text: string, tok: Tokenizer): string[] {
  const pieces: string[] = [];
  let prev = 0;
  for (let i = 0; i < ids.length; i++) {
    const decoded = tok.decode(ids.slice(0, i + 1));
    // A partial UTF-8 sequence decodes to U+FFFD: hold its text back until the character completes.
    const upTo = i === ids.length - 1 ? text.length : decoded.endsWith('\uFFFD') ? prev : Math.min(decoded.length, text.length);
    const end = Math.max(prev, upTo);
    pieces.push(text.slice(prev, end));
    prev = end;
  }
  if (ids.length === 0 && text.length > 0) pieces.push(text);
  return pieces;
}

function completionLogprobs(c: Completion, tok: Tokenizer) {
  const tokens = c.tokenIds.map((id) => tok.decode([id]));
  const offsets: number[] = [];
  let at = 0;
  for (const t of tokens) {
    offsets.push(at);
    at += t.length;
  }
  // Only the sampled tokens' log-probs are known to the policy; alternatives are not reported.
  return { tokens, token_logprobs: c.logProbs.map(finite), top_logprobs: null, text_offset: offsets };
}

function chatLogprobs(c: Completion, tok: Tokenizer) {
  return {
    content: c.tokenIds.map((id, i) => {
      const token = tok.decode([id]);
      return { token, logprob: finite(c.logProbs[i] ?? NaN), bytes: [...Buffer.from(token, 'utf8')], top_logprobs: [] };
    }),
  };
}

/** JSON has no NaN: unknown log-probs are sent as null. */
const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** vLLM's extensions (token ids, per choice) and tool mode's turns. */
function extras(r: ChoiceResult, index: number, req: GenRequest): Record<string, unknown> {
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
export function responseBody(req: GenRequest, id: string, created: number, results: ChoiceResult[], tok: Tokenizer): Record<string, unknown> {
  const choices = results.map((r, index) => {
    const s = shape(r.completion, req, tok);
    if (req.api === 'completions') {
      return { index, text: s.text, logprobs: req.logprobs === null ? null : completionLogprobs(r.completion, tok), finish_reason: s.finish_reason, stop_reason: s.stop_reason, ...extras(r, index, req) };
    }
    return {
      index,
      message: { role: 'assistant', content: s.text },
      logprobs: req.logprobs === null ? null : chatLogprobs(r.completion, tok),
      finish_reason: s.finish_reason,
      stop_reason: s.stop_reason,
      ...extras(r, index, req),
    };
  });
  return {
    id, object: req.api === 'completions' ? 'text_completion' : 'chat.completion', created, model: req.model, choices, usage: usage(req, results),
  };
}

/**
 * The server-sent chunks of a streamed answer, choice after choice: one chunk per token (per
 * turn in tool mode), then a chunk with the finish reason, then usage when asked.
 */
export function streamChunks(req: GenRequest, id: string, created: number, results: ChoiceResult[], tok: Tokenizer): Record<string, unknown>[] {
  const object = req.api === 'completions' ? 'text_completion' : 'chat.completion.chunk';
  const head = { id, object, created, model: req.model };
  const out: Record<string, unknown>[] = [];
  results.forEach((r, index) => {
    const s = shape(r.completion, req, tok);
    const c = r.completion;
    const pieces = r.turns ? r.turns.map((t) => t.content) : tokenPieces(c.tokenIds, s.text, tok);
    if (req.api === 'chat') out.push({ ...head, choices: [{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] });
    pieces.forEach((piece, i) => {
      let lp: unknown = null;
      if (req.logprobs !== null && !r.turns) {
        const one: Completion = { ...c, tokenIds: [c.tokenIds[i] as number], logProbs: [c.logProbs[i] as number] };
        lp = req.api === 'completions' ? completionLogprobs(one, tok) : chatLogprobs(one, tok);
      }
      const choice = req.api === 'completions' ? { index, text: piece, logprobs: lp, finish_reason: null } : { index, delta: { content: piece }, logprobs: lp, finish_reason: null };
      out.push({ ...head, choices: [choice] });
    });
    const last = req.api === 'completions'
      ? { index, text: '', logprobs: null, finish_reason: s.finish_reason, stop_reason: s.stop_reason, ...extras(r, index, req) }
      : { index, delta: {}, logprobs: null, finish_reason: s.finish_reason, stop_reason: s.stop_reason, ...extras(r, index, req) };
    out.push({ ...head, choices: [last] });
  });
  if (req.includeUsageInStream) out.push({ ...head, choices: [], usage: usage(req, results) });
  return out;
}
