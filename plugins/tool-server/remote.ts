import type { Logger, ParsedAction, Tool, ToolResult } from '../../core/index.js';
import { HttpAttemptError, HttpCancelledError, JsonEndpoint } from '../shared/json-endpoint.js';
import { parseCodeToolAction } from '../shared/code-action.js';
import { withRetries } from '../shared/retry.js';
import { parseObservationFormat, unwrapObservation, type ObservationFormat } from './observation-format.js';
import type { RemoteToolsComponentOptions } from './options.js';
import type { ObservationRequest } from './protocol.js';

/**
 * The tool's options: the component's, where stop, apiKeyEnv and observationFormat may be left out when it is built
 * directly.
 */
export type RemoteToolsOptions = Omit<RemoteToolsComponentOptions, OptionalFields> &
  Partial<Pick<RemoteToolsComponentOptions, OptionalFields>>;
type OptionalFields = 'stop' | 'apiKeyEnv' | 'observationFormat';

interface Pending {
  trajectoryId: string;
  action: string;
  finish: boolean;
  extra: Record<string, unknown>;
  resolve: (r: ToolResult) => void;
}

class CallError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** The user's action pattern (`pattern` option), or undefined when actions are code blocks. */
export function actionPattern(pattern: string): RegExp | undefined {
  if (pattern.length === 0) return undefined;
  try {
    return new RegExp(pattern, 'g');
  } catch (e) {
    throw new Error(`remote-tools: pattern is not a valid regular expression: ${(e as Error).message}`, { cause: e });
  }
}

/** Only JSON-safe extra fields travel (an AbortSignal stays here). */
function wireExtra(extra: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (v === undefined || typeof v === 'function' || v instanceof AbortSignal) continue;
    out[k] = v;
  }
  return out;
}

function observationText(o: unknown): string {
  if (typeof o === 'string') return o;
  if (o === null || o === undefined) return '';
  // VeRL-Tool tools may answer {obs: ..., invalid_reason: ...}
  if (o && typeof o === 'object' && typeof (o as { obs?: unknown }).obs === 'string') return (o as { obs: string }).obs;
  return JSON.stringify(o) ?? '';
}

/**
 * A tool whose actions run on a server with VeRL-Tool's contract (`agent0 tool-server` or
 * VeRL-Tool's own). Actions are parsed here; calls (and finishes) arriving within `batchWindowMs`
 * share one `POST /get_observation`; failed requests are retried with jittered backoff.
 * Never throws: transport failures come back as invalid results with a clear observation.
 */
export class RemoteTools implements Tool {
  readonly name: string;
  private readonly re: RegExp | undefined;
  private readonly http: JsonEndpoint;
  private readonly path: string;
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly closing = new AbortController();
  private readonly headers: Record<string, string> = {};
  private readonly format: ObservationFormat;
  requestsSent = 0;

  constructor(
    private readonly o: RemoteToolsOptions,
    private readonly log?: Logger,
    private readonly rand: () => number = Math.random,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.name = o.name;
    this.format = parseObservationFormat(o.observationFormat ?? 'python_code');
    if (o.apiKeyEnv) {
      const key = env[o.apiKeyEnv];
      if (!key) throw new Error(`remote-tools: apiKeyEnv names '${o.apiKeyEnv}', which is not set in the environment`);
      this.headers.authorization = `Bearer ${key}`;
    }
    this.re = actionPattern(o.pattern);
    this.http = new JsonEndpoint(o.url, o);
    this.path = this.http.routePath('/get_observation');
  }

  parseAction(text: string): ParsedAction {
    if (!this.re) return parseCodeToolAction(text, this.o.stop, this.o.fences);
    let last: RegExpMatchArray | undefined;
    for (const m of text.matchAll(this.re)) last = m;
    if (!last) return { valid: false };
    const action = (last[1] ?? last[0]).replace(/\r?\n$/, '');
    return action.trim().length > 0 ? { valid: true, action } : { valid: false };
  }

  conductAction(trajectoryId: string, action: string, extra?: Record<string, unknown>): Promise<ToolResult> {
    // The server parses raw text: a program's stdin travels as the ```input block VeRL-Tool reads.
    const stdin =
      typeof extra?.stdin === 'string' && extra.stdin.length > 0 ? `\n\`\`\`input\n${extra.stdin}\n\`\`\`` : '';
    const text = this.o.actionTemplate.split('{action}').join(action) + stdin;
    const result = this.submit({ trajectoryId, action: text, finish: false, extra: wireExtra(extra) });
    const signal = extra?.signal instanceof AbortSignal ? extra.signal : undefined;
    if (!signal) return result;
    // The batch cannot be recalled; a cancelled caller just stops waiting for its slot.
    return new Promise((resolve) => {
      const onAbort = () =>
        resolve({
          observation: 'remote tool error: the call was cancelled',
          done: false,
          valid: false,
          info: { status: 'cancelled' },
        });
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      void result.then((r) => {
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      });
    });
  }

  async finish(trajectoryId: string): Promise<void> {
    const r = await this.submit({ trajectoryId, action: '', finish: true, extra: {} });
    if (r.info?.status === 'transport_error')
      this.log?.warn(`remote-tools: finish(${trajectoryId}) failed: ${r.observation}`);
  }

  private submit(p: Omit<Pending, 'resolve'>): Promise<ToolResult> {
    if (this.closing.signal.aborted) return Promise.resolve(this.failure('the tool was disposed'));
    return new Promise((resolve) => {
      this.queue.push({ ...p, resolve });
      if (this.queue.length >= this.o.maxBatchSize) this.flush();
      else if (this.o.batchWindowMs <= 0) this.flush();
      else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.o.batchWindowMs);
    });
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.o.maxBatchSize);
      void this.send(batch);
    }
  }

  private failure(message: string): ToolResult {
    return {
      observation: `remote tool error: ${message}`.slice(0, 1000),
      done: false,
      valid: false,
      info: { status: 'transport_error' },
    };
  }

  private async send(batch: Pending[]): Promise<void> {
    const body: ObservationRequest = {
      trajectory_ids: batch.map((p) => p.trajectoryId),
      actions: batch.map((p) => p.action),
      finish: batch.map((p) => p.finish),
      is_last_step: batch.map(() => false),
      extra_fields: batch.map((p) => p.extra),
    };
    const out = await withRetries(() => this.post(body), this.o, {
      signal: this.closing.signal,
      rand: this.rand,
      // 400/404/413/422 (and a cancelled request) will fail the same way again; the rest may not.
      onFailure: (e) => (e instanceof CallError && !e.retryable ? 'stop' : 'retry'),
    });
    if (out.ok) {
      const res = out.value;
      batch.forEach((p, i) =>
        p.resolve({
          observation: unwrapObservation(this.format, p.action, observationText(res.observations[i])),
          done: res.dones[i] === true,
          valid: res.valids[i] === true,
          info: { ...(res.infos?.[i] ?? {}), remote: true },
        }),
      );
      return;
    }
    const errors = out.errors.map((e) => (e as Error).message);
    const msg =
      errors.length === 0
        ? 'the tool was disposed'
        : `${errors.length} attempt(s) failed: ${errors[errors.length - 1]}`;
    this.log?.warn(`remote-tools: ${this.o.url}: ${msg}`);
    for (const p of batch) p.resolve(this.failure(msg));
  }

  private async post(body: ObservationRequest): Promise<{
    observations: unknown[];
    dones: unknown[];
    valids: unknown[];
    infos?: Record<string, string | number | boolean>[];
  }> {
    const where = `POST ${this.o.url}`;
    let json: { observations?: unknown; dones?: unknown; valids?: unknown; infos?: unknown };
    try {
      json = (await this.http.request(this.path, body, {
        headers: this.headers,
        timeoutMs: this.o.timeoutMs,
        signal: this.closing.signal,
        label: where,
      })) as typeof json;
    } catch (e) {
      if (e instanceof HttpCancelledError) throw new CallError(e.message, false);
      // 400/404/413/422 will fail the same way again; 408/429/5xx may not.
      if (e instanceof HttpAttemptError) throw new CallError(e.message, e.retryable);
      throw e;
    }
    if (json === null || typeof json !== 'object')
      throw new CallError(`${where}: the answer is not a JSON object`, true);
    const n = body.trajectory_ids.length;
    for (const k of ['observations', 'dones', 'valids'] as const) {
      const v = json[k];
      if (!Array.isArray(v) || v.length !== n)
        throw new CallError(`${where}: the answer's ${k} is not an array of ${n} entries`, true);
    }
    const infos =
      Array.isArray(json.infos) && json.infos.length === n
        ? (json.infos as Record<string, string | number | boolean>[])
        : undefined;
    this.requestsSent++;
    return {
      observations: json.observations as unknown[],
      dones: json.dones as unknown[],
      valids: json.valids as unknown[],
      infos,
    };
  }

  async dispose(): Promise<void> {
    this.flush();
    this.closing.abort();
    await this.http.destroy();
  }
}
