import { Ajv } from 'ajv';
import {
  Logger,
  RunDir,
  Rng,
  silentProgress,
  stageDir,
  stageKey,
  type Completion,
  type ComponentDefinition,
  type GenerateOptions,
  type MetricRecord,
  type PipelineStage,
  type RolloutEngine,
  type SamplingParams,
  type StageContext,
  type Tokenizer,
  type Verifier,
} from '../../../core/index.js';
import { BigramPolicy } from '../../core/bigram-policy.js';
import { tmpDir } from '../../core/helpers.js';

export interface TestStage {
  ctx: StageContext;
  runDir: RunDir;
  metrics: MetricRecord[];
  /** commitCheckpoint calls, by component. */
  committed: Record<string, string>;
  warnings: string[];
}

/**
 * A stage's context as the pipeline builds it (the same key, folder, artifacts and rng stream
 * `new Rng(seed, stageName)`), over a fresh run folder, with `instances` as the run's components.
 */
export async function testStage(
  stageName: string,
  instances: Record<string, unknown>,
  opts: { iteration?: number; seed?: number; runDir?: RunDir } = {},
): Promise<TestStage> {
  const runDir = opts.runDir ?? new RunDir(await tmpDir('agent0-stage-'));
  const iteration = opts.iteration ?? 1;
  const key = stageKey(stageName, iteration);
  const dir = await runDir.ensure(stageDir(key));
  const metrics: MetricRecord[] = [];
  const committed: Record<string, string> = {};
  const warnings: string[] = [];
  const log = new Logger(stageName, 'error');
  log.warn = (m: string) => {
    warnings.push(m);
  };
  const get = async (name: string) => {
    if (!(name in instances)) throw new Error(`no component named '${name}'`);
    return instances[name];
  };
  const ctx = {
    name: stageName,
    runDir,
    rng: new Rng(opts.seed ?? 1, stageName),
    seed: opts.seed ?? 1,
    log,
    metrics: {
      log: async (r: MetricRecord) => {
        metrics.push(r);
      },
    },
    progress: silentProgress,
    signal: new AbortController().signal,
    get,
    has: (name: string) => name in instances,
    iteration,
    key,
    dir,
    artifacts: runDir.stageArtifacts(key),
    artifactsOf: (stage: string, it = iteration) => runDir.artifacts(stage, it),
    outputDir: (stage: string, it = iteration) => runDir.artifacts(stage, it).dir,
    loadState: async () => (await runDir.readStageState<{ $state: unknown }>(key))?.$state,
    saveState: async (s: unknown) => runDir.writeStageState(key, { $state: s, $metricsBytes: 0 }),
    commitCheckpoint: async (name: string, d: string) => {
      committed[name] = d;
    },
  } as unknown as StageContext;
  return { ctx, runDir, metrics, committed, warnings };
}

const ajv = new Ajv({ useDefaults: true, strict: false });

/** A component's options with the schema's defaults filled, as recipe validation leaves them. */
export function withDefaults<T>(def: ComponentDefinition, options: Record<string, unknown>): T {
  const o = structuredClone(options);
  const validate = ajv.compile(def.options);
  if (!validate(o)) throw new Error(`invalid options for ${def.kind}/${def.name}: ${ajv.errorsText(validate.errors)}`);
  return o as T;
}

/** Runs a stage component with options (defaults filled) in a test context. */
export async function runStage(def: ComponentDefinition, options: Record<string, unknown>, t: TestStage) {
  const stage = (await def.create(withDefaults(def, options), t.ctx)) as PipelineStage;
  return stage.run(t.ctx);
}

/** One token per character (id = code + 1, 0 = eos): every text round-trips. */
export const chars: Tokenizer = {
  vocabSize: 65537,
  eosIds: [0],
  padId: 0,
  encode: (text) => Array.from(text, (c) => c.charCodeAt(0) + 1),
  decode: (ids) =>
    ids
      .filter((i) => i > 0)
      .map((i) => String.fromCharCode(i - 1))
      .join(''),
};

/**
 * An engine that answers each prompt with the next of its scripted texts (`reply(prompt, n)`, n
 * counting that prompt's requests from 0), and records every call's prompts and sampling.
 */
export class ReplayEngine implements RolloutEngine {
  readonly calls: { prompts: string[]; params: SamplingParams; sampleKeys?: string[] }[] = [];
  private readonly served = new Map<string, number>();
  constructor(
    private readonly reply: (prompt: string, n: number) => string,
    readonly tokenizer: Tokenizer = chars,
    private readonly finish: Completion['finishReason'] = 'eos',
  ) {}

  async generate(prompts: number[][], params: SamplingParams, opts: GenerateOptions = {}): Promise<Completion[]> {
    const texts = prompts.map((p) => this.tokenizer.decode(p));
    this.calls.push({ prompts: texts, params, ...(opts.sampleKeys ? { sampleKeys: opts.sampleKeys } : {}) });
    return texts.map((prompt) => {
      const n = this.served.get(prompt) ?? 0;
      this.served.set(prompt, n + 1);
      const text = this.reply(prompt, n);
      const tokenIds = this.tokenizer.encode(text);
      return { tokenIds, text, logProbs: tokenIds.map(() => -1), finishReason: this.finish };
    });
  }
}

/** Replies from a table: prompt → its texts in order (the last one repeats). */
export function scripted(table: Record<string, string[]>): (prompt: string, n: number) => string {
  return (prompt, n) => {
    const texts = table[prompt];
    if (!texts) throw new Error(`no script for ${JSON.stringify(prompt)}`);
    return texts[Math.min(n, texts.length - 1)] as string;
  };
}

/** The last `\boxed{...}` (no nesting) is the answer; equal when the trimmed strings are equal. Counts calls. */
export function boxedVerifier(): Verifier & { calls: [string, string][] } {
  const calls: [string, string][] = [];
  return {
    calls,
    extract(text: string) {
      const all = [...text.matchAll(/\\boxed\{([^{}]*)\}/g)];
      return all.length === 0 ? null : (all[all.length - 1]![1] as string).trim();
    },
    async equivalent(a: string, b: string) {
      calls.push([a, b]);
      return a.trim() === b.trim();
    },
    async verify(gold: string, response: string) {
      const extracted = this.extract(response);
      return { correct: extracted !== null && (await this.equivalent(gold, extracted)), extracted };
    },
  };
}

/** Characters the stage tests' model texts use (the embedded world's formats). */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzPSIQT0123456789 \n.:<>/\\{}()`+-*%';

/**
 * The bigram test policy (a real trainable LM, test/core/bigram-policy.ts) over the characters of
 * ALPHABET: id 0 pads, the last id ends a text. Starts uniform (all logits 0).
 */
export class CharBigram extends BigramPolicy {
  override readonly tokenizer: Tokenizer;
  /** trainStep calls so far; the call numbered `failAt` (1-based) throws, as a kill would stop it. */
  calls = 0;
  failAt = 0;

  constructor(lr = 0.5) {
    const V = ALPHABET.length + 2;
    super(
      V,
      Array.from({ length: V }, () => new Array<number>(V).fill(0)),
      lr,
    );
    this.tokenizer = {
      vocabSize: V,
      eosIds: [V - 1],
      padId: 0,
      encode: (s) =>
        Array.from(s, (c) => {
          const i = ALPHABET.indexOf(c);
          if (i < 0) throw new Error(`CharBigram: no token for ${JSON.stringify(c)}`);
          return i + 1;
        }),
      decode: (ids) =>
        ids
          .filter((i) => i > 0 && i < V - 1)
          .map((i) => ALPHABET[i - 1])
          .join(''),
    };
  }

  override async trainStep(...args: Parameters<BigramPolicy['trainStep']>): ReturnType<BigramPolicy['trainStep']> {
    if (++this.calls === this.failAt) throw new Error('killed');
    return super.trainStep(...args);
  }

  weights(): number[][] {
    return this.W.arraySync() as number[][];
  }
}
