import type { ParsedAction, RolloutEngine, SamplingParams, Tool, ToolResult } from '../../core/index.js';
import { parseCodeAction } from '../shared/code-action.js';
import { ToolLoop } from '../shared/tool-loop.js';
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

/** This world's `print(EXPR)` programs as a tool, answered at once by the exact evaluator. */
export class EmulatedPythonTool implements Tool {
  readonly name = 'arith-world/emulated-python';

  /** Every action stop runs, as tool/python reads the turn; a turn with no program gets 'Error'. */
  parseAction(text: string): ParsedAction {
    return { valid: true, action: parseCodeAction(text, [OUTPUT_STOP])?.code ?? '' };
  }

  async conductAction(_trajectoryId: string, code: string): Promise<ToolResult> {
    return { observation: observationText(emulatePython(code)), done: false, valid: true };
  }

  async finish(): Promise<void> {}
}

/** What formatObservation wraps, as the loop's template wraps it (the world's observation). */
function observationText(stdout: string): string {
  return stdout.replace(/\s+$/, '');
}
const OBSERVATION_TEMPLATE = formatObservation('{output}');

/**
 * Multi-turn rollouts through the shared tool loop, each `OUTPUT_STOP` stop answered by the
 * emulated sandbox; at most `maxTurns` tool calls and `maxNewTokens` tokens per model turn, with no
 * budget over the whole response. Rows draw the streams of their position in each round
 * ('position'): the probe's figures have always been defined by those draws, and its synchronous
 * tool keeps the rounds in a fixed order. Returns the completion texts (observations included).
 */
export async function rolloutWithEmulatedTool(
  engine: RolloutEngine,
  prompts: readonly number[][],
  sampling: SamplingParams,
  maxTurns = 2,
): Promise<string[]> {
  const loop = new ToolLoop([new EmulatedPythonTool()], {
    stop: [OUTPUT_STOP],
    observationFormat: OBSERVATION_TEMPLATE,
    maxTurns,
    maxActionLength: sampling.maxNewTokens,
    maxResponseLength: Number.MAX_SAFE_INTEGER,
    maxObsLength: null,
    obsTruncate: 'middle',
    // All calls at once and a round that waits for them: every live row joins the next round, in order.
    concurrency: Math.max(1, prompts.length),
    toolTimeoutSeconds: 60,
    onInvalidAction: 'observe',
    invalidActionMessage: 'Error',
    batchWaitMs: 50,
  });
  const requests = prompts.map((p, i) => ({ id: `probe-${i}`, groupId: `probe-${i}`, promptIds: [...p] }));
  const trajectories = await loop.run(engine, requests, { ...sampling, stop: [OUTPUT_STOP] }, { streams: 'position' });
  return trajectories.map((t) => t.text);
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
