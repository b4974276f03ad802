/**
 * Test doubles for the server and engine tests: a character tokenizer and a scripted policy
 * whose every output and log-prob is known in advance, so protocol tests can check exact values.
 * The real tfjs policy is exercised end to end in e2e.test.ts.
 */
import type {
  AgentLoop,
  AgentRequest,
  Completion,
  FinishReason,
  GenerateOptions,
  RolloutEngine,
  SamplingParams,
  TokenEvent,
  Tokenizer,
  TopLogProb,
  Trajectory,
} from '../../../core/index.js';

/** ASCII: id = char code; id 0 is end-of-sequence and decodes to nothing. */
export const charTokenizer: Tokenizer = {
  vocabSize: 128,
  eosIds: [0],
  padId: 0,
  encode: (text) => [...text].map((ch) => (ch.charCodeAt(0) < 128 && ch !== '\0' ? ch.charCodeAt(0) : 63)),
  decode: (ids) =>
    ids
      .filter((i) => i !== 0)
      .map((i) => String.fromCharCode(i))
      .join(''),
};

export const SCRIPT = 'abc def STOP ghi jkl. The end';

/** log-prob the scripted policy reports for the t-th new token (0-based). */
export const scriptLogProb = (t: number): number => -(t + 1) / 100;

/**
 * The alternatives the scripted policy reports at step t, most likely first: the sampled token,
 * then '?' and '!' (unless sampled), 1 and 2 nats less likely.
 */
export const scriptAlternatives = (sampled: number, t: number): TopLogProb[] =>
  [sampled, ...[63, 33].filter((id) => id !== sampled)]
    .slice(0, 3)
    .map((id, i) => ({ id, logProb: scriptLogProb(t) - i }));

/**
 * Row r of a call answers with `<tag>` + script(prompt) then EOS, where the tag is `[seed:r]` when
 * sampling (temperature > 0) and empty when greedy: identical prompts in one call differ, as rows
 * of a seeded sampler do. Honours maxNewTokens, stop strings (kept, first match) and EOS.
 */
export class ScriptPolicy implements RolloutEngine {
  readonly tokenizer = charTokenizer;
  /** 0: a policy that reports no alternatives (set per test). */
  maxTopLogprobs = 3;
  readonly calls: { rows: number; params: SamplingParams; prompts: number[][] }[] = [];
  delayMs = 0;

  /** `script(promptText)`: what to write for a prompt (default: SCRIPT whatever the prompt). */
  constructor(private readonly script: (prompt: string) => string = () => SCRIPT) {}

  async generate(prompts: number[][], params: SamplingParams, opts: GenerateOptions = {}): Promise<Completion[]> {
    this.calls.push({ rows: prompts.length, params, prompts });
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    opts.signal?.throwIfAborted();
    return prompts.map((prompt, r) => {
      const tag = (params.temperature ?? 1) > 0 ? `[${params.seed ?? 0}:${r}]` : '';
      const full = [...charTokenizer.encode(tag + this.script(charTokenizer.decode(prompt))), 0];
      const ids: number[] = [];
      let finish: FinishReason = 'length';
      let stopString: string | undefined;
      for (const id of full) {
        if (ids.length >= params.maxNewTokens) break;
        ids.push(id);
        if (id === 0 || params.stopTokenIds?.includes(id)) {
          finish = 'eos';
          break;
        }
        const text = charTokenizer.decode(ids);
        const hit = params.stop?.find((s) => text.endsWith(s));
        if (hit) {
          finish = 'stop';
          stopString = hit;
          break;
        }
      }
      const k = params.topLogprobs ?? 0;
      const top = k > 0 ? { topLogProbs: ids.map((id, t) => scriptAlternatives(id, t).slice(0, k)) } : {};
      return {
        tokenIds: ids,
        text: charTokenizer.decode(ids),
        logProbs: ids.map((_, t) => scriptLogProb(t)),
        finishReason: finish,
        ...(stopString ? { stopString } : {}),
        ...top,
      };
    });
  }
}

/**
 * A two-turn agent loop: the model writes up to the first '.', the "tool" answers
 * `\n[obs]\n` (mask 0), the model writes once more. Enough to check how serve reports turns.
 */
export class TwoTurnLoop implements AgentLoop {
  readonly seen: AgentRequest[] = [];
  async run(
    engine: RolloutEngine,
    requests: AgentRequest[],
    sampling: SamplingParams,
    opts: { signal?: AbortSignal } = {},
  ): Promise<Trajectory[]> {
    this.seen.push(...requests);
    const tok = engine.tokenizer;
    const first = await engine.generate(
      requests.map((r) => r.promptIds),
      { ...sampling, stop: ['.'] },
      { signal: opts.signal, affinityKeys: requests.map((r) => r.id) },
    );
    const obs = tok.encode('\n[obs]\n');
    const second = await engine.generate(
      requests.map((r, i) => [...r.promptIds, ...(first[i] as Completion).tokenIds, ...obs]),
      { ...sampling, maxNewTokens: 4 },
      { signal: opts.signal, affinityKeys: requests.map((r) => r.id) },
    );
    return requests.map((r, i) => {
      const a = first[i] as Completion;
      const b = second[i] as Completion;
      const responseIds = [...a.tokenIds, ...obs, ...b.tokenIds];
      return {
        id: r.id,
        groupId: r.groupId,
        promptIds: r.promptIds,
        responseIds,
        responseMask: [...a.tokenIds.map(() => 1), ...obs.map(() => 0), ...b.tokenIds.map(() => 1)],
        logProbs: [...a.logProbs, ...obs.map(() => 0), ...b.logProbs],
        text: tok.decode(responseIds),
        stopReason: 'max_turns',
        turns: 2,
        toolCalls: 1,
        toolErrors: 0,
        fields: {},
        metrics: {},
      };
    });
  }
}

/**
 * A scripted policy with a streaming path that decodes one token per step for all rows and, after
 * the first step, waits until `release()` is called (or `waitMs` passes): a server that streams
 * shows the client the first token while the policy is still waiting.
 */
export class GatedStreamPolicy extends ScriptPolicy {
  waitMs = 3000;
  /** Whether the last call was released by release() rather than by the timeout. */
  released = false;
  /** Set: the call fails with it right after the first step. */
  failWith?: Error;
  private open: () => void = () => {};

  release(): void {
    this.open();
  }

  async generateStream(
    prompts: number[][],
    params: SamplingParams,
    onToken: (e: TokenEvent) => void,
    opts: GenerateOptions = {},
  ): Promise<Completion[]> {
    const out = await this.generate(prompts, params, opts);
    this.released = false;
    const gate = new Promise<boolean>((resolve) => {
      this.open = () => resolve(true);
      setTimeout(() => resolve(false), this.waitMs).unref();
    });
    const steps = Math.max(...out.map((c) => c.tokenIds.length));
    for (let t = 0; t < steps; t++) {
      out.forEach((c, row) => {
        const top = c.topLogProbs?.[t];
        if (t < c.tokenIds.length)
          onToken({
            row,
            tokenId: c.tokenIds[t] as number,
            logProb: c.logProbs[t] as number,
            ...(top ? { topLogProbs: top } : {}),
          });
      });
      if (t === 0) this.released = await gate;
      else await new Promise((r) => setImmediate(r));
      if (this.failWith) throw this.failWith;
    }
    return out;
  }
}
