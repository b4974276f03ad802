import type { RolloutEngine, SamplingParams } from '../../core/index.js';
import { parseCodeAction } from '../shared/code-action.js';
import { tryEvaluate } from './expr.js';
import { measureDifficulty } from './difficulty.js';
import {
  type WorldFormat,
  DEFAULT_FORMAT,
  OUTPUT_STOP,
  countToolCalls,
  executorPrompt,
  extractBoxed,
  formatObservation,
  parseCurriculumOutput,
} from './formats.js';

/**
 * Runs a `print(EXPR)` program the way the sandbox would for this world's programs, with the
 * exact evaluator (the probe needs no Python). Anything else prints an error line.
 */
export function emulatePython(code: string): string {
  const m = /^\s*print\(([\s\S]*)\)\s*$/.exec(code);
  const v = m ? tryEvaluate(m[1]!) : null;
  return v === null ? 'Error' : v.toString();
}

export interface ExecutorProbe {
  n: number;
  /** Share whose boxed answer equals the true answer. */
  accuracy: number;
  /** Share that called the tool at least once. */
  toolRate: number;
  /** Share with a `\boxed{}` answer. */
  boxedRate: number;
  /** Accuracy among tool-using and among direct solutions. */
  toolAccuracy: number;
  directAccuracy: number;
}

/**
 * Multi-turn rollouts where each `OUTPUT_STOP` stop is answered by the emulated sandbox; at most
 * `maxTurns` tool calls per sample. Returns the completion texts (observations included).
 */
export async function rolloutWithEmulatedTool(
  engine: RolloutEngine,
  prompts: readonly number[][],
  sampling: SamplingParams,
  maxTurns = 2,
): Promise<string[]> {
  const tok = engine.tokenizer;
  const texts = prompts.map(() => '');
  const ctx = prompts.map((p) => [...p]);
  let live = prompts.map((_, i) => i);
  for (let turn = 0; turn <= maxTurns && live.length > 0; turn++) {
    const outs = await engine.generate(
      live.map((i) => ctx[i]!),
      { ...sampling, stop: [OUTPUT_STOP] },
    );
    const next: number[] = [];
    outs.forEach((o, j) => {
      const i = live[j]!;
      texts[i] += o.text;
      ctx[i]!.push(...o.tokenIds);
      if (o.finishReason === 'stop' && o.stopString === OUTPUT_STOP && turn < maxTurns) {
        // This turn's program, read as tool/python reads it (the turn's text only: over the whole
        // text so far a second call's code would run from the first block on).
        const code = parseCodeAction(o.text, [OUTPUT_STOP])?.code ?? '';
        const obs = formatObservation(emulatePython(code));
        texts[i] += obs;
        ctx[i]!.push(...tok.encode(obs));
        next.push(i);
      }
    });
    live = next;
  }
  return texts;
}

/** Executor rollouts with the emulated sandbox: greedy by default, sampled with `temperature`. */
export async function probeExecutor(
  engine: RolloutEngine,
  tasks: readonly { problem: string; answer: string }[],
  opts: { format?: WorldFormat; maxNewTokens?: number; maxTurns?: number; temperature?: number; seed?: number } = {},
): Promise<ExecutorProbe & { texts: string[] }> {
  const fmt = opts.format ?? DEFAULT_FORMAT;
  const prompts = tasks.map((t) => engine.tokenizer.encode(executorPrompt(t.problem, fmt)));
  const sampling = {
    maxNewTokens: opts.maxNewTokens ?? 64,
    temperature: opts.temperature ?? 0,
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
  };
  const texts = await rolloutWithEmulatedTool(engine, prompts, sampling, opts.maxTurns ?? 2);
  let correct = 0;
  let tool = 0;
  let boxed = 0;
  let toolCorrect = 0;
  texts.forEach((t, i) => {
    const a = extractBoxed(t);
    const ok = a !== null && a === tasks[i]!.answer;
    const usedTool = countToolCalls(t) > 0;
    correct += +ok;
    boxed += +(a !== null);
    tool += +usedTool;
    toolCorrect += +(ok && usedTool);
  });
  const n = tasks.length || 1;
  return {
    n: tasks.length,
    accuracy: correct / n,
    toolRate: tool / n,
    boxedRate: boxed / n,
    toolAccuracy: tool ? toolCorrect / tool : 0,
    directAccuracy: tasks.length - tool ? (correct - toolCorrect) / (tasks.length - tool) : 0,
    texts,
  };
}

export interface CurriculumProbe {
  n: number;
  /** Share with a well-formed `<question>` whose text evaluates. */
  validRate: number;
  /** Share whose own boxed answer is the question's true value. */
  selfCorrect: number;
  /** Share that are verbatim distinct. */
  distinct: number;
  meanOps: number;
  meanMaxDigits: number;
  toolRate: number;
}

/** Sampled curriculum outputs (temperature 1), checked against the exact evaluator. */
export async function probeCurriculum(
  engine: RolloutEngine,
  n: number,
  opts: { format?: WorldFormat; maxNewTokens?: number; seed?: number } = {},
): Promise<CurriculumProbe & { texts: string[] }> {
  const fmt = opts.format ?? DEFAULT_FORMAT;
  const prompt = engine.tokenizer.encode(fmt.curriculumPrompt);
  const texts = await rolloutWithEmulatedTool(
    engine,
    Array.from({ length: n }, () => prompt),
    {
      maxNewTokens: opts.maxNewTokens ?? 64,
      temperature: 1,
      seed: opts.seed,
    },
  );
  let valid = 0;
  let self = 0;
  let ops = 0;
  let digits = 0;
  let tool = 0;
  const qs = new Set<string>();
  for (const t of texts) {
    const p = parseCurriculumOutput(t);
    if (!p) continue;
    tool += +(p.toolCalls > 0);
    const v = tryEvaluate(p.question);
    qs.add(p.question);
    if (v === null) continue;
    valid++;
    self += +(p.answer === v.toString());
    const d = measureDifficulty(p.question);
    ops += d.ops;
    digits += d.maxDigits;
  }
  return {
    n,
    validRate: valid / (n || 1),
    selfCorrect: self / (n || 1),
    distinct: qs.size / (n || 1),
    meanOps: valid ? ops / valid : 0,
    meanMaxDigits: valid ? digits / valid : 0,
    toolRate: tool / (n || 1),
    texts,
  };
}
