/**
 * A local OpenAI-style /v1/completions server that misbehaves on cue. Each request takes the next
 * fault from `faults` (then `ok`): refuse-like resets, hangs, 5xx / 4xx answers, malformed JSON,
 * a connection dropped halfway through the body, a wrong number of choices, or well-formed JSON
 * whose content is wrong (ids outside the vocabulary or beyond max_tokens, null text, positive
 * log-probs). Healthy answers
 * echo the prompt, so a test can tell which completion belongs to which prompt.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { charTokenizer } from '../serve/doubles.js';

export type Fault =
  | 'ok'
  | 'hang'
  | 'stall'
  | 'trickle'
  | '500'
  | '503'
  | '429'
  | '400'
  | 'malformed'
  | 'drop'
  | 'reset'
  | 'short'
  | Invalid;

/** Answers that parse as JSON but carry impossible content. */
export type Invalid =
  | 'out-of-vocab'
  | 'negative-id'
  | 'fractional-id'
  | 'too-many-ids'
  | 'null-text'
  | 'positive-logprob'
  | 'null-logprob'
  | 'long-text'
  | 'foreign-stop';

/** Spoils one healthy choice as the fault says. */
function spoil(fault: Invalid, choice: Record<string, unknown>, ids: number[]): void {
  const lp = choice.logprobs as { tokens: string[]; token_logprobs: (number | null)[] };
  switch (fault) {
    case 'out-of-vocab':
      choice.token_ids = [...ids.slice(1), charTokenizer.vocabSize];
      break;
    case 'negative-id':
      choice.token_ids = [-1, ...ids.slice(1)];
      break;
    case 'fractional-id':
      choice.token_ids = [ids[0]! + 0.5, ...ids.slice(1)];
      break;
    case 'too-many-ids':
      choice.token_ids = Array.from({ length: 50_000 }, () => 97);
      break;
    case 'null-text':
      choice.text = null;
      break;
    case 'positive-logprob':
      lp.token_logprobs[0] = 0.5;
      break;
    case 'null-logprob':
      lp.token_logprobs[0] = null;
      break;
    // The same 50 000 tokens for 8 asked, as text only (ids re-encoded by the client) or as a stop string.
    case 'long-text':
      delete choice.token_ids;
      choice.text = 'a'.repeat(50_000);
      lp.tokens = [];
      lp.token_logprobs = [];
      break;
    case 'foreign-stop':
      Object.assign(choice, { finish_reason: 'stop', stop_reason: 'a'.repeat(50_000) });
      break;
  }
}

const INVALID = new Set<Fault>([
  'out-of-vocab',
  'negative-id',
  'fractional-id',
  'too-many-ids',
  'null-text',
  'positive-logprob',
  'null-logprob',
  'long-text',
  'foreign-stop',
]);

export interface Received {
  prompt: number[];
  n: number;
  fault: Fault;
  body: Record<string, unknown>;
  headers: http.IncomingHttpHeaders;
}

/** The text a healthy answer gives for sample j of a prompt. */
export const echoText = (prompt: number[], j: number): string => `${charTokenizer.decode(prompt)}#${j}`;

export class FaultServer {
  readonly received: Received[] = [];
  faults: Fault[] = [];
  /** Delay before a healthy answer (to make requests overlap). */
  delayMs = 0;
  /** Send vLLM's token_ids per choice. */
  tokenIds = true;
  /** Folders asked for through /update_weights_from_disk, and whether to refuse them. */
  readonly reloads: string[] = [];
  refuseReload = false;
  url = '';
  private readonly server: http.Server;
  private readonly hung = new Set<http.ServerResponse>();

  constructor(readonly name = 'fault') {
    this.server = http.createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
    return this;
  }

  async close(): Promise<void> {
    for (const r of this.hung) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Prompts (decoded) this server answered healthily, one entry per answered sample. */
  served(): string[] {
    return this.received
      .filter((r) => r.fault === 'ok')
      .flatMap((r) => Array.from({ length: r.n }, () => charTokenizer.decode(r.prompt)));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method === 'GET') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ object: 'list', data: [{ id: `${this.name}-model`, object: 'model' }] }));
      return;
    }
    let raw = '';
    for await (const c of req) raw += c;
    const body = JSON.parse(raw) as Record<string, unknown>;
    if (req.url === '/update_weights_from_disk') {
      this.reloads.push(body.model_path as string);
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify(
          this.refuseReload ? { success: false, message: 'no such folder' } : { success: true, message: 'ok' },
        ),
      );
      return;
    }
    const fault = this.faults.shift() ?? 'ok';
    const prompt = body.prompt as number[];
    const n = body.n as number;
    this.received.push({ prompt, n, fault, body, headers: req.headers });
    switch (fault) {
      case 'hang':
        this.hung.add(res);
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case '500':
      case '503':
      case '429':
      case '400':
        res.writeHead(Number(fault), { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `injected ${fault}` } }));
        return;
      case 'malformed':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"choices": [{"text": "oops", ');
        return;
      default:
    }
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    const count = fault === 'short' ? n - 1 : n;
    const choices = Array.from({ length: count }, (_, j) => {
      const text = echoText(prompt, j);
      const ids = charTokenizer.encode(text);
      const choice: Record<string, unknown> = {
        index: j,
        text,
        finish_reason: 'length',
        stop_reason: null,
        logprobs: {
          tokens: [...text],
          token_logprobs: ids.map((_, t) => -(t + 1) / 10),
          top_logprobs: null,
          text_offset: ids.map((_, t) => t),
        },
        ...(this.tokenIds ? { token_ids: ids } : {}),
      };
      if (INVALID.has(fault)) spoil(fault as Invalid, choice, ids);
      return choice;
    });
    const text = JSON.stringify({ id: 'x', object: 'text_completion', model: `${this.name}-model`, choices });
    if (fault === 'stall' || fault === 'trickle') {
      // Headers and the start of the body at once, then nothing (stall) or a byte every 50 ms (trickle).
      this.hung.add(res);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(text.slice(0, 10));
      let at = 10;
      if (fault === 'trickle') {
        const t = setInterval(
          () => (at < text.length - 1 && !res.destroyed ? res.write(text[at++]) : clearInterval(t)),
          50,
        );
        res.on('close', () => clearInterval(t));
      }
      return;
    }
    if (fault === 'drop') {
      // Promise the whole body, send half of it, then cut the connection.
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.write(text.slice(0, Math.floor(text.length / 2)), () => req.socket.destroy());
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(text);
  }
}

/** A URL where nothing listens (connections are refused). */
export async function deadUrl(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}/v1`;
}
