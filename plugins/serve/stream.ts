import type { TokenEvent, Tokenizer } from '../../core/index.js';
import type { GenRequest } from './request.js';
import {
  chatLogprobs,
  completionLogprobs,
  decodeFor,
  extras,
  isStopToken,
  shape,
  usage,
  type ChoiceResult,
  type TokenLp,
} from './response.js';

/**
 * One choice's text as its tokens arrive. Decoding uses a sliding window (as vLLM's and SGLang's
 * detokenizers do): the text a token adds is what decoding from a few tokens back gains, held back
 * while it ends in a partial UTF-8 character. Text that may still turn out to be part of a stop
 * string the client does not want is held back too; the final answer settles the rest.
 */
class ChoiceText {
  private readonly ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;
  /** Decoded text of ids[0, readOffset). */
  private decoded = '';
  /** What the client has been sent. */
  sent = '';
  /** Characters the decoded tokens' strings add up to (completions' text_offset). */
  offset = 0;
  private readonly stops: string[];
  private readonly holdBack: number;

  constructor(
    private readonly req: GenRequest,
    private readonly tok: Tokenizer,
  ) {
    this.stops = (req.sampling.stop ?? []).filter((s) => s.length > 0);
    this.holdBack = req.includeStopStr ? 0 : Math.max(0, ...this.stops.map((s) => s.length - 1));
  }

  /** Adds a token; returns the text now safe to send (may be ''). */
  push(id: number): string {
    this.ids.push(id);
    // A final stop token's text is shown only with include_stop_str_in_output.
    if (!this.req.includeStopStr && isStopToken(id, this.req, this.tok)) return '';
    const before = decodeFor(this.req, this.tok, this.ids.slice(this.prefixOffset, this.readOffset));
    const after = decodeFor(this.req, this.tok, this.ids.slice(this.prefixOffset));
    if (after.length > before.length && !after.endsWith('\uFFFD')) {
      this.decoded += after.slice(before.length);
      this.prefixOffset = this.readOffset;
      this.readOffset = this.ids.length;
    }
    let end = this.decoded.length - this.holdBack;
    for (const s of this.stops) {
      // Nothing sent so far holds a whole stop string (the hold-back saw to it): search past it.
      const at = this.decoded.indexOf(s, Math.max(0, this.sent.length - s.length + 1));
      if (at >= 0) end = Math.min(end, this.req.includeStopStr ? at + s.length : at);
    }
    return this.release(end);
  }

  /** The rest of the final text. */
  finish(text: string): string {
    // The final text starts with what was sent: both come from the same ids and the same cuts.
    const rest = text.slice(this.sent.length);
    this.sent = text;
    return rest;
  }

  private release(end: number): string {
    if (end <= this.sent.length) return '';
    const piece = this.decoded.slice(this.sent.length, end);
    this.sent += piece;
    return piece;
  }
}

/**
 * The server-sent chunks of one streamed answer, built as tokens arrive: per token a chunk with
 * the text it released (and its log-probs when asked; chunks with neither are skipped), then per
 * choice the rest of the text and a chunk with its finish reason, then usage when asked. Tool mode
 * has no token events: each turn becomes a chunk when the trajectory is done.
 */
export class StreamAnswer {
  private readonly head: Record<string, unknown>;
  private readonly texts: ChoiceText[];
  private readonly opened: boolean[];

  constructor(
    private readonly req: GenRequest,
    id: string,
    created: number,
    private readonly tok: Tokenizer,
    private readonly send: (chunk: Record<string, unknown>) => void,
  ) {
    this.head = {
      id,
      object: req.api === 'completions' ? 'text_completion' : 'chat.completion.chunk',
      created,
      model: req.model,
    };
    const choices = req.prompts.length * req.n;
    this.texts = Array.from({ length: choices }, () => new ChoiceText(req, tok));
    this.opened = new Array<boolean>(choices).fill(false);
  }

  token(e: TokenEvent): void {
    const text = this.texts[e.row];
    if (!text) throw new Error(`a token for choice ${e.row}, of ${this.texts.length}`);
    const offset = text.offset;
    text.offset += this.tok.decode([e.tokenId]).length;
    const piece = text.push(e.tokenId);
    const t: TokenLp = { id: e.tokenId, logProb: e.logProb, ...(e.topLogProbs ? { top: e.topLogProbs } : {}) };
    const lp = this.req.logprobs === null ? null : this.logprobs([t], offset);
    if (piece.length > 0 || lp) this.choice(e.row, piece, lp);
  }

  /** Ends every choice with its settled text and finish reason; `results[i]` is choice i. */
  finish(results: ChoiceResult[]): void {
    results.forEach((r, index) => {
      const s = shape(r, this.req, this.tok);
      const text = this.texts[index] as ChoiceText;
      if (r.turns) {
        for (const turn of r.turns) this.choice(index, turn.content, null);
      } else {
        const rest = text.finish(s.text);
        if (rest.length > 0) this.choice(index, rest, null);
      }
      if (!this.opened[index]) this.choice(index, '', null);
      const last =
        this.req.api === 'completions'
          ? {
              index,
              text: '',
              logprobs: null,
              finish_reason: s.finish_reason,
              stop_reason: s.stop_reason,
              ...extras(r, index, this.req),
            }
          : {
              index,
              delta: {},
              logprobs: null,
              finish_reason: s.finish_reason,
              stop_reason: s.stop_reason,
              ...extras(r, index, this.req),
            };
      this.send({ ...this.head, choices: [last] });
    });
    if (this.req.includeUsageInStream) this.send({ ...this.head, choices: [], usage: usage(this.req, results) });
  }

  private logprobs(toks: TokenLp[], offset: number): unknown {
    const k = this.req.logprobs ?? 0;
    return this.req.api === 'completions'
      ? completionLogprobs(toks, k, this.tok, offset)
      : chatLogprobs(toks, k, this.tok);
  }

  private choice(index: number, piece: string, lp: unknown): void {
    if (this.req.api === 'chat' && !this.opened[index]) {
      // OpenAI's first chunk of a choice names the role.
      this.send({
        ...this.head,
        choices: [{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
      });
    }
    this.opened[index] = true;
    const choice =
      this.req.api === 'completions'
        ? { index, text: piece, logprobs: lp, finish_reason: null }
        : { index, delta: { content: piece }, logprobs: lp, finish_reason: null };
    this.send({ ...this.head, choices: [choice] });
  }
}
