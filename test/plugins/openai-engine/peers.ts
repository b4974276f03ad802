/**
 * Local stand-ins for vLLM's and SGLang's /v1/completions, written from their request models and
 * detokenizers (vllm-project/vllm: entrypoints/openai/completion/protocol.py, v1 detokenizer;
 * sgl-project/sglang: entrypoints/openai/protocol.py and serving_completions.py,
 * managers/detokenizer_manager.py), so rollout/openai can be checked against what each server
 * does with the fields it knows and ignores those it does not:
 *
 *  - both decode with `skip_special_tokens` (default true), log-prob every sampled token, and
 *    return every sampled id as `token_ids` when `return_token_ids` is set (a version that
 *    predates the field ignores it: `returnsTokenIds: false`);
 *  - vLLM: `include_stop_str_in_output` keeps a matched stop string, and the text of the stop or
 *    EOS token that ended generation; the reason is `stop_reason` (null for EOS);
 *  - SGLang: ignores `include_stop_str_in_output`; `no_stop_trim` keeps the stop string / the
 *    final stop token; the reason is `matched_stop` (the id for EOS and stop tokens).
 *
 * The "model" writes `script` (token ids) whatever the prompt, each token with log-prob -(t+1)/10.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Tokenizer } from '../../../core/index.js';

export type PeerKind = 'vllm' | 'sglang';

export const peerLogProb = (t: number): number => -(t + 1) / 10;

export class PeerServer {
  readonly received: Record<string, unknown>[] = [];
  url = '';
  /** Older SGLang (and vLLM before 0.10.2) send no token_ids. */
  returnsTokenIds = true;
  private readonly server: http.Server;

  constructor(
    readonly kind: PeerKind,
    private readonly tok: Tokenizer,
    public script: number[],
  ) {
    this.server = http.createServer((req, res) => {
      let data = '';
      req.on('data', (c: Buffer) => {
        data += c.toString('utf8');
      });
      req.on('end', () => {
        const body = JSON.parse(data || '{}') as Record<string, unknown>;
        if (req.url === '/v1/models')
          return this.json(res, { object: 'list', data: [{ id: `${kind}-model`, object: 'model' }] });
        this.received.push(body);
        this.json(res, {
          id: 'cmpl-x',
          object: 'text_completion',
          model: body.model,
          choices: Array.from({ length: Number(body.n ?? 1) }, (_, index) => ({ index, ...this.complete(body) })),
        });
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }

  private json(res: http.ServerResponse, body: unknown): void {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  /** One choice, as the peer builds it. */
  private complete(b: Record<string, unknown>): Record<string, unknown> {
    const skip = b.skip_special_tokens !== false;
    const decode = (ids: number[]) => this.tok.decode(ids, { skipSpecialTokens: skip });
    const stops = typeof b.stop === 'string' ? [b.stop] : ((b.stop as string[] | undefined) ?? []);
    const stopIds = new Set([...this.tok.eosIds, ...((b.stop_token_ids as number[] | undefined) ?? [])]);
    const ids: number[] = [];
    let matched: string | number | null = null;
    let finish = 'length';
    for (const id of this.script) {
      if (ids.length >= Number(b.max_tokens ?? 16)) break;
      ids.push(id);
      if (stopIds.has(id)) {
        matched = id;
        finish = 'stop';
        break;
      }
      const hit = stops.find((s) => decode(ids).includes(s));
      if (hit) {
        matched = hit;
        finish = 'stop';
        break;
      }
    }
    const keep = this.kind === 'vllm' ? b.include_stop_str_in_output === true : b.no_stop_trim === true;
    // The stop or EOS token that ended generation is left out of the text unless kept.
    const shown = typeof matched === 'number' && !keep ? ids.slice(0, -1) : ids;
    let text = decode(shown);
    if (typeof matched === 'string') {
      const at = text.indexOf(matched);
      text = text.slice(0, keep ? at + matched.length : at);
    }
    const choice: Record<string, unknown> = { text, finish_reason: finish };
    if (this.kind === 'vllm')
      choice.stop_reason =
        typeof matched === 'string' || (typeof matched === 'number' && !this.tok.eosIds.includes(matched))
          ? matched
          : null;
    else choice.matched_stop = matched;
    if (b.logprobs !== undefined && b.logprobs !== null) {
      const tokens = ids.map((id) => this.tok.decode([id]));
      choice.logprobs = {
        tokens,
        token_logprobs: ids.map((_, t) => peerLogProb(t)),
        top_logprobs: tokens.map((s, t) => ({ [s]: peerLogProb(t) })),
        text_offset: ids.map(() => 0),
      };
    }
    if (b.return_token_ids === true && this.returnsTokenIds) choice.token_ids = ids;
    return choice;
  }
}
