import type { ChatMessage, SamplingParams, Tokenizer } from '../../core/index.js';

/** An error the client caused or should see, sent as an OpenAI-style error object. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly type = 'invalid_request_error',
  ) {
    super(message);
  }
}

/** One validated generation request, either API. */
export interface GenRequest {
  api: 'completions' | 'chat';
  model: string;
  /** Token ids of each prompt; `n` samples are drawn per prompt. */
  prompts: number[][];
  n: number;
  sampling: SamplingParams;
  /** completions: top-k count asked for (null: none); chat: 0 when `logprobs: true`, null when off. */
  logprobs: number | null;
  stream: boolean;
  includeUsageInStream: boolean;
  /** vLLM's include_stop_str_in_output, or SGLang's no_stop_trim: the stop string (or stop token's text) stays. */
  includeStopStr: boolean;
  /** Special tokens' text is left out (vLLM's and SGLang's default). */
  skipSpecialTokens: boolean;
  returnTokenIds: boolean;
}

export interface ServerLimits {
  maxTokens: number;
  maxN: number;
  /** Most samples (prompts x n) one request may ask for; unset: no cap beyond maxN. */
  maxSamples?: number;
}

type Body = Record<string, unknown>;

const num = (
  b: Body,
  k: string,
  dflt: number | undefined,
  min: number,
  max: number,
  int = false,
): number | undefined => {
  const v = b[k];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || (int && !Number.isInteger(v)) || v < min || v > max) {
    throw new ApiError(
      400,
      `'${k}' must be ${int ? 'an integer' : 'a number'} in [${min}, ${max}], got ${JSON.stringify(v)}`,
      k,
    );
  }
  return v;
};

const bool = (b: Body, k: string, dflt: boolean): boolean => {
  const v = b[k];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw new ApiError(400, `'${k}' must be a boolean, got ${JSON.stringify(v)}`, k);
  return v;
};

/** Options this server cannot honour: refused unless left at their neutral value. */
const UNSUPPORTED: Record<string, unknown> = {
  echo: false,
  best_of: 1,
  suffix: null,
  presence_penalty: 0,
  frequency_penalty: 0,
  tools: null,
  tool_choice: null,
};

function refuseUnsupported(b: Body): void {
  for (const [k, neutral] of Object.entries(UNSUPPORTED)) {
    const v = b[k];
    if (
      v !== undefined &&
      v !== null &&
      v !== neutral &&
      !(k === 'tool_choice' && v === 'none') &&
      !(k === 'tools' && Array.isArray(v) && v.length === 0)
    ) {
      throw new ApiError(400, `'${k}' is not supported by agent0 serve`, k);
    }
  }
  if (b.logit_bias && typeof b.logit_bias === 'object' && Object.keys(b.logit_bias).length > 0) {
    throw new ApiError(400, "'logit_bias' is not supported by agent0 serve", 'logit_bias');
  }
}

function stops(b: Body): string[] | undefined {
  const v = b.stop;
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string' && s.length > 0) || list.length > 16) {
    throw new ApiError(400, "'stop' must be a non-empty string or a list of at most 16 of them", 'stop');
  }
  return list as string[];
}

/** `defaultMax`: OpenAI's legacy completions default to 16 tokens; chat runs to the server's limit. */
function sampling(b: Body, limits: ServerLimits, maxTokensKey: string[], defaultMax: number): SamplingParams {
  let maxTokens: number | undefined;
  for (const k of maxTokensKey) maxTokens ??= num(b, k, undefined, 1, limits.maxTokens, true);
  const s: SamplingParams = {
    maxNewTokens: maxTokens ?? Math.min(defaultMax, limits.maxTokens),
    temperature: num(b, 'temperature', 1, 0, 2),
    topP: num(b, 'top_p', 1, Number.MIN_VALUE, 1),
  };
  const topK = num(b, 'top_k', undefined, -1, 1e6, true);
  if (topK !== undefined && topK > 0) s.topK = topK;
  const seed = num(b, 'seed', undefined, -(2 ** 53), 2 ** 53, true);
  if (seed !== undefined) s.seed = seed;
  const st = stops(b);
  if (st) s.stop = st;
  const ids = b.stop_token_ids;
  if (ids !== undefined && ids !== null) {
    if (!Array.isArray(ids) || !ids.every((x) => Number.isInteger(x) && x >= 0))
      throw new ApiError(400, "'stop_token_ids' must be a list of token ids", 'stop_token_ids');
    if (ids.length > 0) s.stopTokenIds = ids as number[];
  }
  return s;
}

/**
 * `response_format`: plain text is what the policy writes; JSON modes need constrained decoding,
 * which the policies here do not have, so they are refused rather than silently ignored.
 */
function responseFormat(b: Body): void {
  const f = b.response_format;
  if (f === undefined || f === null) return;
  const type = (f as { type?: unknown }).type;
  if (typeof f !== 'object' || Array.isArray(f) || typeof type !== 'string') {
    throw new ApiError(400, "'response_format' must be an object with a 'type'", 'response_format');
  }
  if (type === 'text') return;
  throw new ApiError(
    400,
    `response_format type '${type}' is not supported by agent0 serve (it has no constrained decoding); only 'text' is`,
    'response_format',
  );
}

function common(
  b: Body,
  limits: ServerLimits,
): Pick<
  GenRequest,
  'n' | 'stream' | 'includeUsageInStream' | 'includeStopStr' | 'skipSpecialTokens' | 'returnTokenIds'
> {
  refuseUnsupported(b);
  responseFormat(b);
  const so = b.stream_options as { include_usage?: unknown } | undefined | null;
  return {
    n: num(b, 'n', 1, 1, limits.maxN, true) as number,
    stream: bool(b, 'stream', false),
    includeUsageInStream: so?.include_usage === true,
    // SGLang ignores vLLM's name and vLLM SGLang's: either asks for the same thing here.
    includeStopStr: bool(b, 'include_stop_str_in_output', false) || bool(b, 'no_stop_trim', false),
    skipSpecialTokens: bool(b, 'skip_special_tokens', true),
    returnTokenIds: bool(b, 'return_token_ids', false),
  };
}

/** A request's samples are capped as a whole: many prompts at the largest n would hold the policy for minutes. */
function capSamples(prompts: number, n: number, limits: ServerLimits): void {
  if (limits.maxSamples !== undefined && prompts * n > limits.maxSamples) {
    throw new ApiError(
      400,
      `this request asks for ${prompts} prompt(s) x n=${n} = ${prompts * n} samples; the server takes at most ${limits.maxSamples} per request (serve --max-request-samples): split it`,
      'prompt',
    );
  }
}

function model(b: Body): string {
  if (typeof b.model !== 'string' || b.model.length === 0) throw new ApiError(400, "'model' is required", 'model');
  return b.model;
}

const isIds = (x: unknown): x is number[] =>
  Array.isArray(x) && x.length > 0 && x.every((v) => Number.isInteger(v) && v >= 0);

/** `prompt` of /v1/completions: a string, a list of strings, one token-id list or a list of them. */
export function parseCompletionRequest(b: Body, tok: Tokenizer, limits: ServerLimits): GenRequest {
  const p = b.prompt;
  const shared = common(b, limits);
  // Counted before any prompt is tokenized.
  capSamples(Array.isArray(p) && p.length > 0 && !isIds(p) ? p.length : 1, shared.n, limits);
  let prompts: number[][];
  if (typeof p === 'string') prompts = [tok.encode(p)];
  else if (isIds(p)) prompts = [p];
  else if (Array.isArray(p) && p.length > 0 && p.every((x) => typeof x === 'string'))
    prompts = (p as string[]).map((s) => tok.encode(s));
  else if (Array.isArray(p) && p.length > 0 && p.every(isIds)) prompts = p as number[][];
  else
    throw new ApiError(
      400,
      "'prompt' must be a string, a list of strings, a list of token ids or a list of such lists",
      'prompt',
    );
  for (const [i, ids] of prompts.entries()) {
    // A causal LM needs at least one token to condition on.
    if (ids.length === 0) throw new ApiError(400, `prompt ${i} is empty`, 'prompt');
    const bad = ids.find((id) => id >= tok.vocabSize);
    if (bad !== undefined)
      throw new ApiError(400, `token id ${bad} is outside the vocabulary (size ${tok.vocabSize})`, 'prompt');
  }
  const lp = num(b, 'logprobs', undefined, 0, MAX_TOP_LOGPROBS, true);
  const s = sampling(b, limits, ['max_tokens'], 16);
  if (lp !== undefined && lp > 0) s.topLogprobs = lp;
  return { api: 'completions', model: model(b), prompts, logprobs: lp ?? null, sampling: s, ...shared };
}

/** OpenAI's cap on alternatives per token (completions' `logprobs`, chat's `top_logprobs`). */
export const MAX_TOP_LOGPROBS = 20;

const ROLES = new Set(['system', 'user', 'assistant', 'tool', 'developer']);

function messages(b: Body): ChatMessage[] {
  const m = b.messages;
  if (!Array.isArray(m) || m.length === 0) throw new ApiError(400, "'messages' must be a non-empty list", 'messages');
  return m.map((x, i) => {
    const role = (x as { role?: unknown })?.role;
    let content = (x as { content?: unknown })?.content;
    // The content-parts form: only text parts can be served by a text model.
    if (Array.isArray(content)) {
      if (
        !content.every(
          (c) => (c as { type?: unknown })?.type === 'text' && typeof (c as { text?: unknown }).text === 'string',
        )
      ) {
        throw new ApiError(400, `messages[${i}].content: only text parts are supported`, 'messages');
      }
      content = content.map((c) => (c as { text: string }).text).join('');
    }
    if (typeof role !== 'string' || !ROLES.has(role))
      throw new ApiError(
        400,
        `messages[${i}].role must be one of developer, system, user, assistant, tool`,
        'messages',
      );
    if (typeof content !== 'string') throw new ApiError(400, `messages[${i}].content must be a string`, 'messages');
    // OpenAI's newer name for system instructions; chat templates know only 'system'.
    return { role: (role === 'developer' ? 'system' : role) as ChatMessage['role'], content };
  });
}

/**
 * The prompt text for chat messages: the tokenizer's chat template when it has one, else a plain
 * "role: content" transcript ending with an open assistant turn.
 */
export function renderChat(msgs: ChatMessage[], tok: Tokenizer): string {
  if (tok.applyChatTemplate) return tok.applyChatTemplate(msgs, { addGenerationPrompt: true });
  return msgs.map((m) => `${m.role}: ${m.content}\n`).join('') + 'assistant:';
}

export function parseChatRequest(b: Body, tok: Tokenizer, limits: ServerLimits): GenRequest {
  const msgs = messages(b);
  const lpOn = bool(b, 'logprobs', false);
  const top = num(b, 'top_logprobs', undefined, 0, MAX_TOP_LOGPROBS, true);
  if (top !== undefined && top > 0 && !lpOn)
    throw new ApiError(400, "'top_logprobs' needs 'logprobs: true'", 'top_logprobs');
  const shared = common(b, limits);
  capSamples(1, shared.n, limits);
  const s = sampling(b, limits, ['max_completion_tokens', 'max_tokens'], limits.maxTokens);
  if (lpOn && top !== undefined && top > 0) s.topLogprobs = top;
  return {
    api: 'chat',
    model: model(b),
    prompts: [tok.encode(renderChat(msgs, tok))],
    logprobs: lpOn ? (top ?? 0) : null,
    sampling: s,
    ...shared,
  };
}
