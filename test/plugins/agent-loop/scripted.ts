import type { Completion, GenerateOptions, RolloutEngine, SamplingParams, Tokenizer } from '../../../core/index.js';

/** One id per UTF-16 code unit (id = code + 1); id 0 is eos. decode(encode(s)) === s for any s. */
export const charTokenizer: Tokenizer = {
  vocabSize: 65537,
  eosIds: [0],
  padId: 0,
  encode: (text) => Array.from({ length: text.length }, (_, i) => text.charCodeAt(i) + 1),
  decode: (ids) =>
    ids
      .filter((i) => i > 0)
      .map((i) => String.fromCharCode(i - 1))
      .join(''),
};

/** The log-prob every scripted token gets, so tests can tell model tokens from observation tokens. */
export const MODEL_LOGP = -0.25;

export interface GenerateCall {
  prompts: string[];
  params: SamplingParams;
  affinityKeys?: string[];
  sampleKeys?: string[];
  at: number;
}

/**
 * A fake policy: for the prompt whose text starts with a script's key, turn k of the trajectory
 * replays `turns[k]` character by character, stopping right after the first stop string (kept),
 * at maxNewTokens, or at the end of the turn text (eos, unless the turn ends with '…' meaning
 * "keep talking": then it runs to the budget). The turn index is how many times the key was served.
 */
export class ScriptedEngine implements RolloutEngine {
  readonly tokenizer = charTokenizer;
  readonly calls: GenerateCall[] = [];
  private readonly served = new Map<string, number>();

  constructor(
    private readonly scripts: Record<string, string[]>,
    private readonly delayMs = 0,
  ) {}

  private keyOf(prompt: string): string {
    const key = Object.keys(this.scripts).find((k) => prompt.startsWith(k));
    if (key === undefined) throw new Error(`no script for prompt ${JSON.stringify(prompt.slice(0, 40))}`);
    return key;
  }

  async generate(prompts: number[][], params: SamplingParams, opts: GenerateOptions = {}): Promise<Completion[]> {
    const texts = prompts.map((p) => charTokenizer.decode(p));
    this.calls.push({
      prompts: texts,
      params,
      ...(opts.affinityKeys ? { affinityKeys: opts.affinityKeys } : {}),
      ...(opts.sampleKeys ? { sampleKeys: opts.sampleKeys } : {}),
      at: performance.now(),
    });
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    return texts.map((prompt) => {
      if (opts.signal?.aborted) return { tokenIds: [], text: '', logProbs: [], finishReason: 'abort' };
      const key = this.keyOf(prompt);
      const k = this.served.get(key) ?? 0;
      this.served.set(key, k + 1);
      const turns = this.scripts[key] as string[];
      let script = turns[Math.min(k, turns.length - 1)] as string;
      const endless = script.endsWith('…');
      if (endless) script = script.slice(0, -1).repeat(10_000);
      let text = '';
      let finishReason: Completion['finishReason'] = endless ? 'length' : 'eos';
      let stopString: string | undefined;
      for (const ch of script) {
        if (text.length >= params.maxNewTokens) {
          finishReason = 'length';
          break;
        }
        text += ch;
        stopString = (params.stop ?? []).find((s) => text.endsWith(s));
        if (stopString) {
          finishReason = 'stop';
          break;
        }
      }
      if (finishReason === 'eos' && text.length >= params.maxNewTokens && text.length < script.length)
        finishReason = 'length';
      const tokenIds = charTokenizer.encode(text);
      return {
        tokenIds,
        text,
        logProbs: tokenIds.map(() => MODEL_LOGP),
        finishReason,
        ...(stopString ? { stopString } : {}),
      };
    });
  }
}

export const PY = (code: string): string => `I will use python.\n\`\`\`python\n${code}\n\`\`\`\n\`\`\`output`;
