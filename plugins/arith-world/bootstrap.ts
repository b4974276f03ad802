import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  defineComponent,
  dropStepCheckpoints,
  recoverDir,
  replaceDirAtomic,
  resumeFromStep,
  Rng,
  saveStepCheckpoint,
  writeJsonAtomic,
  type OptionsOf,
  type PipelineStage,
  type Policy,
  type StageContext,
  type StageResult,
} from '../../core/index.js';
import {
  type CorpusExample,
  type EncodedExample,
  batchRows,
  buildExamples,
  encodeExample,
  makeBatch,
} from './corpus.js';
import { nextTokenLoss } from './pretrain-loss.js';
import { CACHE_MARKER, bootstrapCacheRoot, cacheHit, contentHash } from './cache.js';
import { FORMAT_SCHEMA_PROPS } from './formats.js';
import { probeCurriculum, probeExecutor } from './probe.js';

/** Bumped when the way the corpus or the training loop works changes (invalidates the cache). */
export const BOOTSTRAP_VERSION = 1;

/** The stage's folders: the freshly trained model (before the cache copy), and the model the policies load. */
const TRAINED = 'trained';
const MODEL = 'model';

const bootstrapSchema = {
  type: 'object',
  properties: {
    policies: {
      type: 'array',
      items: { type: 'string' },
      minItems: 1,
      default: ['executor', 'curriculum'],
      description: 'Policy instances; the first is trained, the others get its weights',
    },
    seed: {
      type: 'integer',
      default: 0,
      description:
        "the base model's seed (corpus and batches), fixed apart from the run seed so that runs and ablation seeds share one base model, as they would share a pretrained checkpoint",
    },
    tasks: { type: 'string', default: 'tasks', description: 'Task-source instance whose split feeds the corpus' },
    split: { type: 'string', default: 'train' },
    corpusSize: { type: 'integer', minimum: 1, default: 20000 },
    curriculumShare: { type: 'number', minimum: 0, maximum: 1, default: 0.25 },
    toolRate: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0.12,
      description: 'share of solutions (and curriculum answers) that call the tool',
    },
    factToolRate: {
      type: ['number', 'null'],
      minimum: 0,
      maximum: 1,
      default: null,
      description: 'the share for one-operation one-digit facts (null: toolRate)',
    },
    toolWarmupSteps: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description:
        'first steps trained on tool solutions only (the copy skill), before the mixed corpus sets the prior to toolRate',
    },
    trainObservations: {
      type: 'boolean',
      default: false,
      description: 'Also train on sandbox output tokens (RL masks them)',
    },
    maxLen: { type: 'integer', minimum: 8, default: 160 },
    steps: { type: 'integer', minimum: 1, default: 600 },
    batchSize: { type: 'integer', minimum: 1, default: 32 },
    microBatchSize: { type: 'integer', minimum: 0, default: 0, description: '0: the whole batch at once' },
    lr: { type: 'number', exclusiveMinimum: 0, default: 0.003 },
    warmupSteps: { type: 'integer', minimum: 0, default: 30 },
    minLrRatio: { type: 'number', minimum: 0, maximum: 1, default: 0.1 },
    checkpointEvery: { type: 'integer', minimum: 0, default: 100 },
    cache: { type: 'boolean', default: true },
    cacheDir: {
      type: 'string',
      default: '',
      description: "'' = $AGENT0_CACHE/bootstrap or .cache/agent0/bootstrap under the cwd",
    },
    probe: {
      type: 'object',
      properties: {
        easy: { type: 'integer', minimum: 0, default: 32 },
        hard: { type: 'integer', minimum: 0, default: 32 },
        curriculum: { type: 'integer', minimum: 0, default: 32 },
        maxNewTokens: { type: 'integer', minimum: 1, default: 64 },
      },
      additionalProperties: false,
      default: {},
    },
    format: { type: 'object', properties: FORMAT_SCHEMA_PROPS, additionalProperties: false, default: {} },
  },
  additionalProperties: false,
} as const;

export type BootstrapOptions = OptionsOf<typeof bootstrapSchema>;

/** Linear warmup then cosine decay to `minLrRatio · lr`. */
export function lrAt(step: number, o: Pick<BootstrapOptions, 'lr' | 'warmupSteps' | 'minLrRatio' | 'steps'>): number {
  if (o.warmupSteps > 0 && step < o.warmupSteps) return (o.lr * (step + 1)) / o.warmupSteps;
  const span = Math.max(1, o.steps - o.warmupSteps);
  const t = Math.min(1, (step - o.warmupSteps) / span);
  return o.lr * (o.minLrRatio + (1 - o.minLrRatio) * 0.5 * (1 + Math.cos(Math.PI * t)));
}

interface BootstrapState {
  step: number;
  key: string;
}

/** The corpus as texts (for hashing, inspection and the `--dump` of tests). */
export function corpusText(ex: CorpusExample): string {
  return ex.prompt + ex.completion.map((s) => s.text).join('');
}

class BootstrapStage implements PipelineStage {
  constructor(private readonly o: BootstrapOptions) {}

  async run(ctx: StageContext): Promise<StageResult> {
    const o = this.o;
    const [mainName, ...others] = o.policies;
    if (!mainName) throw new Error('stage/bootstrap: options.policies names no policy');
    const policy = await ctx.get(mainName, 'policy');
    const source = await ctx.get(o.tasks, 'task-source');
    const tasks = await source.load(o.split, { limit: o.corpusSize });
    const problems = tasks.map((t) => ({
      text: t.problem,
      expr: typeof t.meta?.expr === 'string' ? t.meta.expr : t.problem,
      answer: t.trueAnswer ?? t.answer ?? '',
      fact: t.meta?.ops === 1 && t.meta?.maxDigits === 1,
    }));
    const examples = buildExamples(problems, new Rng(o.seed, 'bootstrap').fork('corpus'), {
      curriculumShare: o.curriculumShare,
      toolRate: o.toolRate,
      factToolRate: o.factToolRate,
      format: o.format,
    });
    const encoded = examples
      .map((e) => encodeExample(e, policy.tokenizer, o.maxLen, o.trainObservations))
      .filter((e): e is EncodedExample => e !== null);
    if (encoded.length < o.batchSize)
      throw new Error(`stage/bootstrap: only ${encoded.length} corpus examples fit maxLen=${o.maxLen}`);
    // The same problems, every one solved with the tool: the first toolWarmupSteps steps draw only
    // from these, so the copy skill (expression into print(), output into \boxed{}) is learned
    // before the mixed corpus sets the prior back towards answering directly.
    const toolExamples =
      o.toolWarmupSteps > 0
        ? buildExamples(problems, new Rng(o.seed, 'bootstrap').fork('corpus-tool'), {
            curriculumShare: o.curriculumShare,
            toolRate: 1,
            format: o.format,
          })
        : [];
    const toolEncoded = toolExamples
      .map((e) => encodeExample(e, policy.tokenizer, o.maxLen, o.trainObservations))
      .filter((e): e is EncodedExample => e !== null);
    // Token ids, not only texts: the same corpus under another tokenizer is another base model.
    const corpusDigest = contentHash(
      { texts: [...examples, ...toolExamples].map(corpusText), ids: [...encoded, ...toolEncoded].map((e) => e.ids) },
      32,
    );
    const { cache: _c, cacheDir: _d, checkpointEvery: _e, probe: _p, policies: _n, tasks: _t, ...trainOpts } = o;
    const key = contentHash({ v: BOOTSTRAP_VERSION, seed: o.seed, engine: policy.describe(), trainOpts, corpusDigest });
    const entry = path.join(bootstrapCacheRoot(o.cacheDir), key);
    ctx.log.info(
      `corpus: ${encoded.length}/${examples.length} examples (${examples.filter((e) => e.tool).length} with the tool, ` +
        `${examples.filter((e) => e.role === 'curriculum').length} curriculum); cache key ${key}`,
    );

    let source_: string;
    let trainedSteps = 0;
    // a kill mid-swap of the cache entry leaves complete copies beside it: restore the newest
    if (o.cache && (await recoverDir(entry)) && (await cacheHit(entry))) {
      ctx.log.info(`reusing the cached base model ${entry}`);
      source_ = entry;
    } else {
      trainedSteps = await this.train(ctx, policy, encoded, toolEncoded, key);
      source_ = ctx.artifacts.path(TRAINED);
      await replaceDirAtomic(source_, async (tmp) => {
        await policy.save(tmp);
        await writeJsonAtomic(path.join(tmp, CACHE_MARKER), {
          key,
          version: BOOTSTRAP_VERSION,
          steps: o.steps,
          engine: policy.describe(),
        });
      });
      if (o.cache) {
        await fs.mkdir(path.dirname(entry), { recursive: true });
        await replaceDirAtomic(entry, (tmp) => fs.cp(source_, tmp, { recursive: true }));
      }
    }
    const modelDir = ctx.artifacts.path(MODEL);
    if (path.resolve(source_) !== path.resolve(modelDir)) {
      await replaceDirAtomic(modelDir, (tmp) => fs.cp(source_, tmp, { recursive: true }));
    }
    await fs.rm(ctx.artifacts.path(TRAINED), { recursive: true, force: true });
    await dropStepCheckpoints(ctx);
    for (const name of [mainName, ...others]) {
      const p = name === mainName ? policy : await ctx.get(name, 'policy');
      await p.load(modelDir);
      await ctx.commitCheckpoint(name, modelDir);
    }
    return {
      summary: {
        cacheKey: key,
        cached: trainedSteps === 0 ? 1 : 0,
        corpus: encoded.length,
        ...(await this.probe(ctx, policy)),
      },
    };
  }

  private async train(
    ctx: StageContext,
    policy: Policy,
    encoded: EncodedExample[],
    toolEncoded: EncodedExample[],
    key: string,
  ): Promise<number> {
    const o = this.o;
    // the saved state names the step checkpoint to resume from, so weights and optimizer always
    // match the step count; a state of another corpus or configuration (key) starts over
    const state = await ctx.loadState<BootstrapState>();
    let start = 0;
    if (state && state.key === key && state.step > 0) {
      await resumeFromStep(ctx, state.step, (dir) => policy.load(dir), 'stage/bootstrap');
      start = state.step;
    }
    const rng = new Rng(o.seed, 'bootstrap').fork('batches');
    const progress = ctx.progress('bootstrap', o.steps - start, 'step');
    const padId = policy.tokenizer.padId;
    let loss = NaN;
    for (let step = start; step < o.steps; step++) {
      if (ctx.signal.aborted) throw new Error('stage/bootstrap aborted');
      const warm = step < o.toolWarmupSteps && toolEncoded.length >= o.batchSize;
      const rows = warm
        ? batchRows(toolEncoded.length, o.batchSize, step, rng.fork('tool')).map((i) => toolEncoded[i]!)
        : batchRows(encoded.length, o.batchSize, step - Math.min(step, o.toolWarmupSteps), rng).map((i) => encoded[i]!);
      const { batch, lossMask } = makeBatch(rows, padId);
      const lr = lrAt(step, o);
      const stats = await policy.trainStep(batch, nextTokenLoss(lossMask), {
        lr,
        ...(o.microBatchSize > 0 ? { microBatchSize: o.microBatchSize } : {}),
      });
      loss = stats.loss;
      await ctx.metrics.log({
        stage: 'bootstrap',
        iteration: ctx.iteration,
        step: step + 1,
        loss,
        lr,
        gradNorm: stats.gradNorm,
        tokens: stats.tokens,
      });
      progress.tick(1, { loss });
      const done = step + 1;
      if (o.checkpointEvery > 0 && done % o.checkpointEvery === 0 && done < o.steps) {
        await saveStepCheckpoint<BootstrapState>(ctx, done, (tmp) => policy.save(tmp), { step: done, key });
      }
    }
    progress.done({ loss });
    return o.steps - start;
  }

  private async probe(ctx: StageContext, policy: Policy): Promise<Record<string, number>> {
    const p = this.o.probe;
    const out: Record<string, number> = {};
    const source = await ctx.get(this.o.tasks, 'task-source');
    for (const split of ['easy', 'hard'] as const) {
      if (p[split] <= 0 || !source.splits().includes(split)) continue;
      const tasks = (await source.load(split, { limit: p[split] })).map((t) => ({
        problem: t.problem,
        answer: t.trueAnswer ?? t.answer ?? '',
      }));
      const r = await probeExecutor(policy, tasks, { format: this.o.format, maxNewTokens: p.maxNewTokens });
      out[`${split}Accuracy`] = r.accuracy;
      out[`${split}ToolRate`] = r.toolRate;
      out[`${split}BoxedRate`] = r.boxedRate;
      // Sampled (temperature 1): the prior RL starts from, and how well each way of answering works.
      const s = await probeExecutor(policy, tasks, {
        format: this.o.format,
        maxNewTokens: p.maxNewTokens,
        temperature: 1,
        seed: this.o.seed,
      });
      out[`${split}SampledAccuracy`] = s.accuracy;
      out[`${split}SampledToolRate`] = s.toolRate;
      out[`${split}SampledToolAccuracy`] = s.toolAccuracy;
      out[`${split}SampledDirectAccuracy`] = s.directAccuracy;
    }
    if (p.curriculum > 0) {
      const c = await probeCurriculum(policy, p.curriculum, {
        format: this.o.format,
        maxNewTokens: p.maxNewTokens,
        seed: this.o.seed,
      });
      Object.assign(out, {
        curriculumValid: c.validRate,
        curriculumSelfCorrect: c.selfCorrect,
        curriculumDistinct: c.distinct,
        curriculumOps: c.meanOps,
        curriculumDigits: c.meanMaxDigits,
      });
    }
    if (Object.keys(out).length) {
      await ctx.metrics.log({
        stage: 'bootstrap',
        iteration: ctx.iteration,
        ...Object.fromEntries(Object.entries(out).map(([k, v]) => [`probe/${k}`, v])),
      });
      ctx.log.info(
        `probe: ${Object.entries(out)
          .map(([k, v]) => `${k}=${v.toFixed(3)}`)
          .join(' ')}`,
      );
    }
    return out;
  }
}

export const bootstrapStage = defineComponent({
  kind: 'stage',
  name: 'bootstrap',
  description:
    'Pretrains the tiny base model in-process on a program-generated corpus in the curriculum and executor formats (cached by content hash)',
  options: bootstrapSchema,
  create(options) {
    return new BootstrapStage(options);
  },
});
