import { setTimeout as sleep } from 'node:timers/promises';
import pLimit, { type LimitFunction } from 'p-limit';
import type {
  AgentLoop,
  AgentRequest,
  Completion,
  RolloutEngine,
  SamplingParams,
  StopReason,
  Tool,
  ToolResult,
  Tokenizer,
  Trajectory,
} from '../../core/index.js';
import type { ToolLoopOptions } from './tool-loop-options.js';
import { formatObservation, truncateIds } from './truncate.js';

export type { ToolLoopOptions };

interface State {
  req: AgentRequest;
  ids: number[];
  mask: number[];
  logProbs: number[];
  text: string;
  turns: number;
  toolCalls: number;
  toolErrors: number;
  stopReason?: StopReason;
  metrics: Record<string, number>;
}

class ToolTimeoutError extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number, ctl: AbortController): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ctl.abort();
      reject(new ToolTimeoutError(`tool call took longer than ${ms / 1000} s`));
    }, ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/**
 * How each generation round draws its random streams. 'turn' keys a row's stream by its trajectory
 * and turn, so what a trajectory samples does not depend on which others share its round (tool
 * timing decides that) and a resumed run samples what it did before. 'position' leaves the rows
 * unkeyed: the engine gives each row the stream of its position in the call, as a plain batched
 * `generate` does; the draws then follow the round layout, which repeats only when the tools
 * settle in a fixed order (synchronous tools, as in arith-world's probe).
 */
export type SampleStreams = 'turn' | 'position';

/** A promise that settles when `signal` aborts, and a way to drop its listener. */
function untilAborted(signal: AbortSignal | undefined): { promise: Promise<void>; dispose(): void } {
  if (!signal) return { promise: new Promise(() => {}), dispose: () => {} };
  let onAbort = (): void => {};
  const promise = new Promise<void>((r) => {
    onAbort = () => r();
    if (signal.aborted) r();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

const CLEAN_STATUSES = new Set(['ok', 'success', 'finished']);

/**
 * Multi-turn tool-integrated rollout, token in / token out. Every generation round sends all
 * trajectories that are ready in one engine call (the in-process engine decodes a batch at once);
 * tool calls of different trajectories run concurrently, and a trajectory whose tool is slow
 * joins a later round instead of holding the others back.
 */
export class ToolLoop implements AgentLoop {
  private readonly limit: LimitFunction;

  constructor(
    private readonly tools: Tool[],
    private readonly o: ToolLoopOptions,
  ) {
    if (tools.length === 0) throw new Error('agent-loop/tool-loop: `tools` names no tool');
    if (o.stop.length === 0) throw new Error('agent-loop/tool-loop: `stop` needs at least one action stop string');
    this.limit = pLimit(o.concurrency);
  }

  async run(
    engine: RolloutEngine,
    requests: AgentRequest[],
    sampling: SamplingParams,
    opts: { signal?: AbortSignal; streams?: SampleStreams } = {},
  ): Promise<Trajectory[]> {
    const tok = engine.tokenizer;
    const budget = this.o.maxResponseLength ?? sampling.maxNewTokens;
    if (!(budget >= 1)) throw new Error(`agent-loop/tool-loop: the response budget must be >= 1 token (got ${budget})`);
    const signal = opts.signal;
    const states: State[] = requests.map((req) => ({
      req,
      ids: [],
      mask: [],
      logProbs: [],
      text: '',
      turns: 0,
      toolCalls: 0,
      toolErrors: 0,
      metrics: { modelTokens: 0, obsTokens: 0, obsTruncated: 0, invalidActions: 0, sandboxErrors: 0, toolMs: 0 },
    }));
    const allStops = [...new Set([...this.o.stop, ...(sampling.stop ?? [])])];
    const ready: State[] = [...states];
    const inFlight = new Set<Promise<void>>();
    let settled = 0;
    let closed = false;
    // One listener for the whole run (a fresh one per wait would pile up on the signal).
    const abortWatch = untilAborted(signal);
    const aborted = abortWatch.promise;
    try {
      while ((ready.length > 0 || inFlight.size > 0) && !signal?.aborted) {
        if (ready.length === 0) {
          await Promise.race([...inFlight, aborted]);
          continue;
        }
        // Let tool calls still running join this round while they keep finishing; stop waiting once
        // none has finished for batchWaitMs (a slow call makes only its own trajectory late).
        while (inFlight.size > 0 && this.o.batchWaitMs > 0 && !signal?.aborted) {
          const before = settled;
          const ac = new AbortController();
          await Promise.race([
            ...inFlight,
            sleep(this.o.batchWaitMs, undefined, { signal: ac.signal }).catch(() => {}),
            aborted,
          ]);
          ac.abort();
          if (settled === before) break;
        }
        if (signal?.aborted) break;
        const batch = ready.splice(0);
        const caps = batch.map((s) => this.turnCap(s, budget));
        const completions = await engine.generate(
          batch.map((s) => [...s.req.promptIds, ...s.ids]),
          { ...sampling, maxNewTokens: Math.max(...caps), stop: allStops },
          {
            ...(signal ? { signal } : {}),
            affinityKeys: batch.map((s) => s.req.id),
            ...(opts.streams === 'position' ? {} : { sampleKeys: batch.map((s) => `${s.req.id}#${s.turns}`) }),
          },
        );
        if (!Array.isArray(completions) || completions.length !== batch.length) {
          throw new Error(
            `agent-loop/tool-loop: the engine returned ${Array.isArray(completions) ? completions.length : typeof completions} completions for ${batch.length} prompts`,
          );
        }
        batch.forEach((s, i) => {
          const turnText = this.afterGenerate(
            s,
            completions[i] as Completion,
            caps[i] as number,
            budget,
            tok,
            allStops,
          );
          if (turnText === null) return;
          const p: Promise<void> = this.toolStep(s, turnText, budget, tok, signal, () => closed)
            .catch(() => {
              // A tool's parseAction threw: the tool is broken, not the batch.
              s.toolErrors++;
              s.stopReason = 'tool_error';
              s.metrics.toolExceptions = (s.metrics.toolExceptions ?? 0) + 1;
            })
            .finally(() => {
              settled++;
              inFlight.delete(p);
              if (!s.stopReason && !closed) ready.push(s);
            });
          inFlight.add(p);
        });
      }
    } finally {
      abortWatch.dispose();
      closed = true;
      for (const s of states) if (!s.stopReason) s.stopReason = 'abort';
      await Promise.all(states.flatMap((s) => this.tools.map((t) => t.finish(s.req.id).catch(() => {}))));
    }
    return states.map((s) => this.toTrajectory(s, tok));
  }

  /** Tokens this trajectory may generate in its next turn. */
  private turnCap(s: State, budget: number): number {
    const room = budget - s.ids.length;
    return Math.max(1, Math.min(room, this.o.maxActionLength ?? room));
  }

  /**
   * Appends the model's turn. Returns the turn's text when it asks for a tool call, else null
   * (the trajectory has ended; its stop reason is set).
   */
  private afterGenerate(
    s: State,
    c: Completion,
    cap: number,
    budget: number,
    tok: Tokenizer,
    allStops: string[],
  ): string | null {
    let ids = c.tokenIds;
    let lps = c.logProbs;
    let text = c.text;
    const clipped = ids.length > cap;
    if (clipped) {
      // The batch ran to the largest cap; a prefix of a sample is a sample, so cut this one to its own.
      ids = ids.slice(0, cap);
      lps = lps.slice(0, cap);
      text = tok.decode(ids);
    }
    s.ids.push(...ids);
    s.mask.push(...ids.map(() => 1));
    s.logProbs.push(...lps);
    s.text += text;
    s.turns++;
    s.metrics.modelTokens = (s.metrics.modelTokens ?? 0) + ids.length;
    if (c.finishReason === 'abort') s.stopReason = 'abort';
    else if (clipped || c.finishReason === 'length') s.stopReason = 'length';
    else if (c.finishReason === 'eos') s.stopReason = 'eos';
    else {
      const hit = c.stopString ?? allStops.find((x) => text.endsWith(x));
      if (hit === undefined || !this.o.stop.includes(hit)) s.stopReason = 'answer';
      else if (s.toolCalls >= this.o.maxTurns) s.stopReason = 'max_turns';
      else if (s.ids.length >= budget) s.stopReason = 'length';
    }
    return s.stopReason ? null : text;
  }

  private async toolStep(
    s: State,
    turnText: string,
    budget: number,
    tok: Tokenizer,
    signal: AbortSignal | undefined,
    isClosed: () => boolean,
  ): Promise<void> {
    let tool: Tool | undefined;
    let action = '';
    let found: Record<string, unknown> = {};
    for (const t of this.tools) {
      const p = t.parseAction(turnText);
      if (p.valid && typeof p.action === 'string') {
        tool = t;
        action = p.action;
        found = p.extra ?? {};
        break;
      }
    }
    if (!tool) {
      s.metrics.invalidActions = (s.metrics.invalidActions ?? 0) + 1;
      if (this.o.onInvalidAction === 'stop') s.stopReason = 'invalid_action';
      else this.appendObservation(s, this.o.invalidActionMessage, budget, tok);
      return;
    }
    s.toolCalls++;
    const t0 = performance.now();
    let r: ToolResult;
    try {
      r = await this.limit(() => {
        if (isClosed()) throw new ToolTimeoutError('the rollout ended before the call started');
        const ctl = new AbortController();
        const sig = signal ? AbortSignal.any([signal, ctl.signal]) : ctl.signal;
        return withTimeout(
          (tool as Tool).conductAction(s.req.id, action, {
            ...(s.req.extra ?? {}),
            ...found,
            signal: sig,
            turn: s.toolCalls,
          }),
          this.o.toolTimeoutSeconds * 1000,
          ctl,
        );
      });
    } catch (e) {
      s.metrics.toolMs = (s.metrics.toolMs ?? 0) + (performance.now() - t0);
      s.toolErrors++;
      const key = e instanceof ToolTimeoutError ? 'toolTimeouts' : 'toolExceptions';
      s.metrics[key] = (s.metrics[key] ?? 0) + 1;
      s.stopReason = 'tool_error';
      return;
    }
    s.metrics.toolMs = (s.metrics.toolMs ?? 0) + (performance.now() - t0);
    if (isClosed()) return;
    const status = r.info?.status;
    if (!r.valid) s.metrics.sandboxErrors = (s.metrics.sandboxErrors ?? 0) + 1;
    if (!r.valid || (typeof status === 'string' && !CLEAN_STATUSES.has(status))) s.toolErrors++;
    this.appendObservation(s, typeof r.observation === 'string' ? r.observation : String(r.observation), budget, tok);
    if (r.done && !s.stopReason) s.stopReason = 'answer';
  }

  /** Tokenizes the observation and appends it, masked out; ends the trajectory when it fills the budget. */
  private appendObservation(s: State, output: string, budget: number, tok: Tokenizer): void {
    let out = output;
    if (this.o.maxObsLength !== null) {
      const outIds = tok.encode(out);
      if (outIds.length > this.o.maxObsLength) {
        out = tok.decode(truncateIds(outIds, this.o.maxObsLength, this.o.obsTruncate));
        s.metrics.obsTruncated = (s.metrics.obsTruncated ?? 0) + 1;
      }
    }
    let text = formatObservation(this.o.observationFormat, out);
    let ids = tok.encode(text);
    const room = budget - s.ids.length;
    if (ids.length >= room) {
      // No room left to generate after it.
      ids = ids.slice(0, Math.max(0, room));
      text = tok.decode(ids);
      s.stopReason = 'length';
    }
    s.ids.push(...ids);
    s.mask.push(...ids.map(() => 0));
    s.logProbs.push(...ids.map(() => 0));
    s.text += text;
    s.metrics.obsTokens = (s.metrics.obsTokens ?? 0) + ids.length;
  }

  private toTrajectory(s: State, _tok: Tokenizer): Trajectory {
    return {
      id: s.req.id,
      groupId: s.req.groupId,
      promptIds: s.req.promptIds,
      responseIds: s.ids,
      responseMask: s.mask,
      logProbs: s.logProbs,
      text: s.text,
      stopReason: s.stopReason ?? 'abort',
      turns: s.turns,
      toolCalls: s.toolCalls,
      toolErrors: s.toolErrors,
      fields: { ...(s.req.fields ?? {}) },
      metrics: { ...s.metrics, toolMs: Math.round(s.metrics.toolMs ?? 0) },
    };
  }
}
