import type {
  Completion,
  GenerateOptions,
  Logger,
  RolloutEngine,
  SamplingParams,
  Tokenizer,
} from '../../core/index.js';
import { HttpAttemptError, HttpCancelledError, JsonEndpoint } from '../shared/json-endpoint.js';
import { withRetries } from '../shared/retry.js';
import { Balancer } from './balancer.js';
import type { OpenAIEngineOptions } from './options.js';
import { ProtocolError, buildRequestBody, parseResponse } from './protocol.js';

export class AbortError extends Error {
  constructor(message = 'the request was cancelled') {
    super(message);
    this.name = 'AbortError';
  }
}

/** The server looks down: it did not answer in time (a hung server stays hung), or refused or reset the connection. */
const endpointDown = (e: unknown): boolean =>
  e instanceof HttpAttemptError && (e.kind === 'timeout' || e.kind === 'refused' || e.kind === 'closed');

/** Every attempt of one request failed, or it failed in a way retrying cannot fix (4xx). */
export class RemoteEngineError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RemoteEngineError';
  }
}

export interface EngineStats {
  requests: number;
  retries: number;
  failures: number;
  /** Samples served per endpoint. */
  samples: number[];
}

/** One HTTP request: n samples of one prompt, whose completions go to `indices` of the batch. */
interface Unit {
  promptIds: number[];
  indices: number[];
  key?: string;
}

/** A RolloutEngine backed by OpenAI-compatible servers (vLLM, SGLang, `agent0 serve`). */
export class OpenAIRolloutEngine implements RolloutEngine {
  private readonly endpoints: JsonEndpoint[];
  private readonly balancer: Balancer;
  private readonly models = new Map<number, Promise<string>>();
  private readonly headers: Record<string, string>;
  private readonly counters: EngineStats;
  /** Answers' token ids must be below this: the model's vocabulary may be padded past the tokenizer's. */
  readonly vocabSize: number;
  /** Present only with `weightSync: from-disk`, so trainers can tell an engine that cannot follow them. */
  readonly loadWeights?: (checkpointDir: string) => Promise<void>;

  constructor(
    private readonly opts: OpenAIEngineOptions,
    readonly tokenizer: Tokenizer,
    private readonly deps: { log?: Logger; rand?: () => number; env?: NodeJS.ProcessEnv } = {},
  ) {
    const httpOpts = {
      connections: opts.connectionsPerEndpoint,
      keepAliveMs: opts.keepAliveMs,
      connectTimeoutMs: opts.connectTimeoutMs,
    };
    this.endpoints = opts.urls.map((u) => new JsonEndpoint(u, httpOpts));
    this.balancer = new Balancer(this.endpoints.length, {
      cooldownMs: opts.cooldownMs,
      affinityCacheSize: opts.affinityCacheSize,
    });
    this.headers = {};
    if (opts.apiKeyEnv) {
      const key = (deps.env ?? process.env)[opts.apiKeyEnv];
      if (!key)
        throw new Error(`rollout/openai: apiKeyEnv names '${opts.apiKeyEnv}', which is not set in the environment`);
      this.headers.authorization = `Bearer ${key}`;
    }
    this.vocabSize = Math.max(tokenizer.vocabSize, opts.vocabSize ?? 0);
    this.counters = { requests: 0, retries: 0, failures: 0, samples: new Array(this.endpoints.length).fill(0) };
    if (opts.weightSync === 'from-disk') this.loadWeights = (dir) => this.reloadFromDisk(dir);
  }

  /** Every server loads the checkpoint folder (SGLang's /update_weights_from_disk contract). */
  private async reloadFromDisk(dir: string): Promise<void> {
    const results = await Promise.allSettled(
      this.endpoints.map(async (ep, i) => {
        const json = (await ep.request(
          '/update_weights_from_disk',
          { model_path: dir },
          { headers: this.headers, timeoutMs: this.opts.weightSyncTimeoutMs },
        )) as { success?: unknown; message?: unknown };
        if (json?.success !== true)
          throw new Error(
            `${this.opts.urls[i]}: ${typeof json?.message === 'string' ? json.message : 'the server did not confirm the reload'}`,
          );
      }),
    );
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
    // A server left on old weights would silently serve a stale policy: fail loudly instead.
    if (failed.length > 0)
      throw new RemoteEngineError(
        `rollout/openai: ${failed.length} of ${results.length} servers did not load ${dir}: ${failed.join('; ')}`,
        1,
      );
    this.deps.log?.info(`rollout/openai: ${results.length} server(s) loaded ${dir}`);
  }

  async generate(prompts: number[][], params: SamplingParams, opts: GenerateOptions = {}): Promise<Completion[]> {
    if (opts.affinityKeys && opts.affinityKeys.length !== prompts.length) {
      throw new Error(`rollout/openai: ${prompts.length} prompts but ${opts.affinityKeys.length} affinity keys`);
    }
    if (opts.signal?.aborted) throw new AbortError('rollout/openai: cancelled before it started');
    const units = this.plan(prompts, opts.affinityKeys);
    // The first hard failure cancels the rest of the batch instead of letting it run on unseen.
    const batch = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, batch.signal]) : batch.signal;
    const out: (Completion | undefined)[] = new Array(prompts.length);
    try {
      await Promise.all(
        units.map(async (u) => {
          const comps = await this.runUnit(u, params, signal, opts.signal);
          u.indices.forEach((idx, j) => {
            if (out[idx]) throw new Error(`rollout/openai: internal error: sample ${idx} filled twice`);
            out[idx] = comps[j];
          });
        }),
      );
    } catch (e) {
      batch.abort();
      throw e;
    }
    const missing = out.findIndex((c) => c === undefined);
    if (missing >= 0) throw new Error(`rollout/openai: internal error: sample ${missing} has no completion`);
    return out as Completion[];
  }

  stats(): EngineStats {
    return { ...this.counters, samples: [...this.counters.samples] };
  }

  /** Which endpoint a trajectory is pinned to (tests, diagnostics). */
  endpointOf(affinityKey: string): string | undefined {
    const i = this.balancer.endpointOf(affinityKey);
    return i === undefined ? undefined : this.opts.urls[i];
  }

  async dispose(): Promise<void> {
    await Promise.all(this.endpoints.map((e) => e.close()));
  }

  private plan(prompts: number[][], keys?: string[]): Unit[] {
    if (keys || !this.opts.groupIdenticalPrompts) {
      return prompts.map((p, i) => ({ promptIds: p, indices: [i], key: keys?.[i] }));
    }
    const byPrompt = new Map<string, Unit>();
    prompts.forEach((p, i) => {
      const k = p.join(',');
      const u = byPrompt.get(k);
      if (u) u.indices.push(i);
      else byPrompt.set(k, { promptIds: p, indices: [i] });
    });
    return [...byPrompt.values()];
  }

  private async runUnit(
    u: Unit,
    params: SamplingParams,
    signal: AbortSignal,
    userSignal?: AbortSignal,
  ): Promise<Completion[]> {
    const n = u.indices.length;
    const avoid = new Set<number>();
    let ep = -1;
    const out = await withRetries(
      async () => {
        ep = this.balancer.acquire(n, u.key, avoid);
        this.counters.requests++;
        try {
          const model = await this.model(ep);
          const body = buildRequestBody(u.promptIds, n, params, { ...this.opts, model }, this.tokenizer);
          const route = this.opts.api === 'chat' ? '/chat/completions' : '/completions';
          const json = await this.endpoints[ep]!.request(this.endpoints[ep]!.basePath + route, body, {
            headers: this.headers,
            timeoutMs: this.opts.timeoutMs,
            signal,
          });
          let comps: Completion[];
          try {
            comps = parseResponse(json, n, params, this.tokenizer, this.vocabSize);
          } catch (e) {
            throw e instanceof ProtocolError ? new ProtocolError(`${this.opts.urls[ep]}${route}: ${e.message}`) : e;
          }
          this.balancer.markUp(ep);
          this.counters.samples[ep] += n;
          return comps;
        } finally {
          this.balancer.release(ep, n);
        }
      },
      this.opts,
      {
        signal,
        rand: this.deps.rand,
        beforeRetry: () => {
          this.counters.retries++;
        },
        onFailure: (e, attempt) => {
          if (e instanceof HttpCancelledError || signal.aborted) return 'cancelled';
          const wrongAnswer = e instanceof ProtocolError || (e instanceof HttpAttemptError && e.kind === 'malformed');
          if (!wrongAnswer && !(e instanceof HttpAttemptError && e.retryable)) return 'stop';
          // Another server gets the retry after a down or hung one (which also cools down) and
          // after a wrong answer: the same server would likely answer the same way.
          if (endpointDown(e) || wrongAnswer) {
            if (avoid.size + 1 < this.endpoints.length) avoid.add(ep);
          }
          if (endpointDown(e)) {
            this.balancer.markDown(ep);
            this.deps.log?.warn(`${this.opts.urls[ep]} looks down (${e.message}); retrying elsewhere`);
          } else {
            this.deps.log?.debug(`attempt ${attempt + 1} failed: ${(e as Error).message}`);
          }
          return 'retry';
        },
      },
    );
    if (out.ok) return out.value;
    const last = out.errors.at(-1) as Error | undefined;
    if (out.reason === 'cancelled') throw this.cancelled(userSignal, last);
    this.counters.failures++;
    const status = last instanceof HttpAttemptError ? last.status : undefined;
    if (out.reason === 'stopped')
      throw new RemoteEngineError(`rollout/openai: ${last?.message} (not retried)`, out.attempts, status);
    throw new RemoteEngineError(
      `rollout/openai: request for ${n} sample(s) failed after ${out.attempts} attempts; last error: ${last?.message}`,
      out.attempts,
      status,
    );
  }

  private cancelled(userSignal: AbortSignal | undefined, cause?: Error): Error {
    // Cancelled by the caller, or by a sibling request's hard failure (which the caller sees instead).
    if (userSignal?.aborted) return new AbortError('rollout/openai: generation cancelled');
    return new AbortError(
      `rollout/openai: cancelled because another request of the batch failed${cause ? ` (${cause.message})` : ''}`,
    );
  }

  /** Shared by every request to the endpoint, so no one caller's cancellation may cut it short. */
  private model(ep: number): Promise<string> {
    if (this.opts.model) return Promise.resolve(this.opts.model);
    let p = this.models.get(ep);
    if (!p) {
      const endpoint = this.endpoints[ep]!;
      p = endpoint
        .request(`${endpoint.basePath}/models`, undefined, {
          headers: this.headers,
          timeoutMs: Math.min(this.opts.timeoutMs, 30000),
        })
        .then((j) => {
          const id = (j as { data?: { id?: unknown }[] }).data?.[0]?.id;
          if (typeof id !== 'string') throw new ProtocolError(`${this.opts.urls[ep]}/models lists no model`);
          return id;
        });
      p.catch(() => this.models.delete(ep));
      this.models.set(ep, p);
    }
    return p;
  }
}
