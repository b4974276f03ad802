/**
 * Test doubles for the server and engine tests: a character tokenizer and a scripted policy
 * whose every output and log-prob is known in advance, so protocol tests can check exact values.
 * The real tfjs policy is exercised end to end in e2e.test.ts.
 */
import type {
  AgentLoop, AgentRequest, Completion, FinishReason, GenerateOptions, RolloutEngine, SamplingParams, Tokenizer, Trajectory,
} from '../../../core/index.js';

/** ASCII: id = char code; id 0 is end-of-sequence and decodes to nothing. */
export const charTokenizer: Tokenizer = {
  vocabSize: 128,
  eosIds: [0],
  padId: 0,
  encode: (text) => [...text].map((ch) => (ch.charCodeAt(0) < 128 && ch !== '\0' ? ch.charCodeAt(0) : 63)),
  decode: (ids) => ids.filter((i) => i !== 0).map((i) => String.fromCharCode(i)).join(''),
};

export const SCRIPT = 'abc def STOP ghi jkl. The end';

/** log-prob the scripted policy reports for the t-th new token (0-based). */
export const scriptLogProb = (t: number): number => -(t + 1) / 100;

/**
 * Row r of a call answers with `<tag>` + script(prompt) then EOS, where the tag is `[seed:r]` when
 * sampling (temperature > 0) and empty when greedy: identical prompts in one call differ, as rows
 * of a seeded sampler do. Honours maxNewTokens, stop strings (kept, first match) and EOS.
 */
export class ScriptPolicy implements RolloutEngine {
  readonly tokenizer = charTokenizer;
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
        if (id === 0 || params.stopTokenIds?.includes(id)) { finish = 'eos'; break; }
        const text = charTokenizer.decode(ids);
        const hit = params.stop?.find((s) => text.endsWith(s));
        if (hit) { finish = 'stop'; stopString = hit; break; }
      }
      return { tokenIds: ids, text: charTokenizer.decode(ids), logProbs: ids.map((_, t) => scriptLogProb(t)), finishReason: finish, ...(stopString ? { stopString } : {}) };
    });
  }
}

/**
 * A two-turn agent loop: the model writes up to the first '.', the "tool" answers
 * `\n[obs]\n` (mask 0), the model writes once more. Enough to check how serve reports turns.
 */
export class TwoTurnLoop implements AgentLoop {
  readonly seen: AgentRequest[] = [];
  async run(engine: RolloutEngine, requests: AgentRequest[], sampling: SamplingParams, opts: { signal?: AbortSignal } = {}): Promise<Trajectory[]> {
    this.seen.push(...requests);
    const tok = engine.tokenizer;
    const first = await engine.generate(requests.map((r) => r.promptIds), { ...sampling, stop: ['.'] }, { signal: opts.signal, affinityKeys: requests.map((r) => r.id) });
    const obs = tok.encode('\n[obs]\n');
    const second = await engine.generate(requests.map((r, i) => [...r.promptIds, ...(first[i] as Completion).tokenIds, ...obs]), { ...sampling, maxNewTokens: 4 }, { signal: opts.signal, affinityKeys: requests.map((r) => r.id) });
    return requests.map((r, i) => {
      const a = first[i] as Completion;
      const b = second[i] as Completion;
      const responseIds = [...a.tokenIds, ...obs, ...b.tokenIds];
      return {
        id: r.id, groupId: r.groupId, promptIds: r.promptIds, responseIds,
        responseMask: [...a.tokenIds.map(() => 1), ...obs.map(() => 0), ...b.tokenIds.map(() => 1)],
        logProbs: [...a.logProbs, ...obs.map(() => 0), ...b.logProbs],
        text: tok.decode(responseIds), stopReason: 'max_turns', turns: 2, toolCalls: 1, toolErrors: 0, fields: {}, metrics: {},
      };
    });
  }
}
