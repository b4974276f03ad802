import { Pool } from 'undici';
import type { Logger, ParsedAction, Tool, ToolResult } from '../../core/index.js';
import { parseObservationFormat, unwrapObservation, type ObservationFormat } from './observation-format.js';
import type { ObservationRequest } from './protocol.js';

export interface RemoteToolsOptions {
  name: string;
  /** The server's base URL (http://h:5000) or its /get_observation route. */
  url: string;
  /** Code-fence info strings that mark an action (```python ... ```), used when `pattern` is empty. */
  fences: string[];
  /** A regular expression whose last match's first group (or the whole match) is the action. */
  pattern: string;
  /** How an action is written back into text for the server's own parser; `{action}` is replaced. */
  actionTemplate: string;
  timeoutMs: number;
  connectTimeoutMs: number;
  retries: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Calls made within this window go out in one request (0: one request per call). */
  batchWindowMs: number;
  maxBatchSize: number;
  connections: number;
  keepAliveMs: number;
  /** Name of an environment variable holding the server's bearer token ('' or absent: none). */
  apiKeyEnv?: string;
  /**
   * The envelope the server puts around observations ('python_code', VeRL-Tool's default and
   * agent0 tool-server's); it is taken off, so the agent loop's own template wraps the text once.
   * 'raw' keeps the server's text as it came. Default 'python_code'.
   */
  observationFormat?: string;
}

interface Pending {
  trajectoryId: string;
  action: string;
  finish: boolean;
  extra: Record<string, unknown>;
  resolve: (r: ToolResult) => void;
}

class CallError extends Error {
  constructor(message: string, readonly retryable: boolean) {
    super(message);
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Builds the action extractor: a user pattern, or the last closed fenced block of the given languages. */
export function actionMatcher(fences: readonly string[], pattern: string): RegExp {
  if (pattern.length > 0) {
    try {
      return new RegExp(pattern, 'g');
    } catch (e) {
      throw new Error(`remote-tools: pattern is not a valid regular expression: ${(e as Error).message}`, { cause: e });
    }
  }
  return new RegExp('```(?:' + fences.map(escapeRegex).join('|') + ')[ \\t]*\\r?\\n([\\s\\S]*?)\\r?\\n?```', 'g');
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

/** FastAPI's `detail`: a message, or (422) a list of `{loc, msg}` errors. */
function detailText(d: unknown): string | undefined {
  if (typeof d === 'string') return d;
  if (Array.isArray(d)) {
    return d.map((e: { loc?: unknown; msg?: unknown }) => `${Array.isArray(e?.loc) ? e.loc.join('.') : '?'}: ${String(e?.msg ?? JSON.stringify(e))}`).join('; ');
  }
  return d === undefined ? undefined : JSON.stringify(d);
}

/**
 * A tool whose actions run on a server with VeRL-Tool's contract (`agent0 tool-server` or
 * VeRL-Tool's own). Actions are parsed here; calls (and finishes) arriving within `batchWindowMs`
 * share one `POST /get_observation`; failed requests are retried with jittered backoff.
 * Never throws: transport failures come back as invalid results with a clear observation.
 */
export class RemoteTools implements Tool {
  readonly name: string;
  private readonly re: RegExp;
  private readonly pool: Pool;
  private readonly path: string;
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly closing = new AbortController();
  private readonly headers: Record<string, string> = { 'content-type': 'application/json' };
  private readonly format: ObservationFormat;
  requestsSent = 0;

  constructor(private readonly o: RemoteToolsOptions, private readonly log?: Logger, private readonly rand: () => number = Math.random, env: NodeJS.ProcessEnv = process.env) {
    this.name = o.name;
    this.format = parseObservationFormat(o.observationFormat ?? 'python_code');
    if (o.apiKeyEnv) {
      const key = env[o.apiKeyEnv];
      if (!key) throw new Error(`remote-tools: apiKeyEnv names '${o.apiKeyEnv}', which is not set in the environment`);
      this.headers.authorization = `Bearer ${key}`;
    }
    this.re = actionMatcher(o.fences, o.pattern);
    const u = new URL(o.url);
    const base = u.pathname.replace(/\/+$/, '');
    this.path = base.endsWith('/get_observation') ? base : `${base}/get_observation`;
    this.pool = new Pool(u.origin, { connections: o.connections, keepAliveTimeout: o.keepAliveMs, connect: { timeout: o.connectTimeoutMs } });
  }

  parseAction(text: string): ParsedAction {
    let last: RegExpMatchArray | undefined;
    for (const m of text.matchAll(this.re)) last = m;
    if (!last) return { valid: false };
    const action = (last[1] ?? last[0]).replace(/\r?\n$/, '');
    return action.trim().length > 0 ? { valid: true, action } : { valid: false };
  }

  conductAction(trajectoryId: string, action: string, extra?: Record<string, unknown>): Promise<ToolResult> {
    const text = this.o.actionTemplate.split('{action}').join(action);
    const result = this.submit({ trajectoryId, action: text, finish: false, extra: wireExtra(extra) });
    const signal = extra?.signal instanceof AbortSignal ? extra.signal : undefined;
    if (!signal) return result;
    // The batch cannot be recalled; a cancelled caller just stops waiting for its slot.
    return new Promise((resolve) => {
      const onAbort = () => resolve({ observation: 'remote tool error: the call was cancelled', done: false, valid: false, info: { status: 'cancelled' } });
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      void result.then((r) => { signal.removeEventListener('abort', onAbort); resolve(r); });
    });
  }

  async finish(trajectoryId: string): Promise<void> {
    const r = await this.submit({ trajectoryId, action: '', finish: true, extra: {} });
    if (r.info?.status === 'transport_error') this.log?.warn(`remote-tools: finish(${trajectoryId}) failed: ${r.observation}`);
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
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.o.maxBatchSize);
      void this.send(batch);
    }
  }

  private failure(message: string): ToolResult {
    return { observation: `remote tool error: ${message}`.slice(0, 1000), done: false, valid: false, info: { status: 'transport_error' } };
  }

  private async send(batch: Pending[]): Promise<void> {
    const body: ObservationRequest = {
      trajectory_ids: batch.map((p) => p.trajectoryId),
      actions: batch.map((p) => p.action),
      finish: batch.map((p) => p.finish),
      is_last_step: batch.map(() => false),
      extra_fields: batch.map((p) => p.extra),
    };
    const errors: string[] = [];
    for (let attempt = 0; attempt <= this.o.retries; attempt++) {
      if (attempt > 0) {
        const ms = Math.floor(this.rand() * Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** (attempt - 1)));
        await new Promise((r) => setTimeout(r, ms));
      }
      if (this.closing.signal.aborted) break;
      try {
        const res = await this.post(body);
        batch.forEach((p, i) => p.resolve({
          observation: unwrapObservation(this.format, p.action, observationText(res.observations[i])),
          done: res.dones[i] === true,
          valid: res.valids[i] === true,
          info: { ...(res.infos?.[i] ?? {}), remote: true },
        }));
        return;
      } catch (e) {
        const err = e instanceof CallError ? e : new CallError((e as Error).message, true);
        errors.push(err.message);
        if (!err.retryable) break;
      }
    }
    const msg = errors.length === 0 ? 'the tool was disposed' : `${errors.length} attempt(s) failed: ${errors[errors.length - 1]}`;
    this.log?.warn(`remote-tools: ${this.o.url}: ${msg}`);
    for (const p of batch) p.resolve(this.failure(msg));
  }

  private async post(body: ObservationRequest): Promise<{ observations: unknown[]; dones: unknown[]; valids: unknown[]; infos?: Record<string, string | number | boolean>[] }> {
    const timeout = AbortSignal.timeout(this.o.timeoutMs);
    const where = `POST ${this.o.url}`;
    let res;
    try {
      res = await this.pool.request({
        method: 'POST', path: this.path, headers: this.headers, body: JSON.stringify(body),
        signal: AbortSignal.any([timeout, this.closing.signal]), headersTimeout: this.o.timeoutMs, bodyTimeout: this.o.timeoutMs,
      });
    } catch (e) {
      if (timeout.aborted) throw new CallError(`${where}: no answer within ${this.o.timeoutMs} ms`, true);
      const code = (e as { code?: string }).code ?? '';
      throw new CallError(`${where}: connection failed (${code || (e as Error).message})`, !this.closing.signal.aborted);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (e) {
      throw new CallError(`${where}: connection dropped while reading the answer (${(e as Error).message})`, true);
    }
    if (res.statusCode >= 400) {
      let detail = text.slice(0, 300);
      try { detail = detailText((JSON.parse(text) as { detail?: unknown }).detail) ?? detail; } catch { /* not JSON */ }
      // 400/404/413 will fail the same way again; 408/429/5xx may not.
      throw new CallError(`${where}: HTTP ${res.statusCode}: ${detail}`, res.statusCode >= 500 || res.statusCode === 408 || res.statusCode === 429);
    }
    let json: { observations?: unknown; dones?: unknown; valids?: unknown; infos?: unknown };
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      throw new CallError(`${where}: malformed JSON in the answer (${text.length} bytes)`, true);
    }
    const n = body.trajectory_ids.length;
    for (const k of ['observations', 'dones', 'valids'] as const) {
      const v = json[k];
      if (!Array.isArray(v) || v.length !== n) throw new CallError(`${where}: the answer's ${k} is not an array of ${n} entries`, true);
    }
    const infos = Array.isArray(json.infos) && json.infos.length === n ? (json.infos as Record<string, string | number | boolean>[]) : undefined;
    this.requestsSent++;
    return { observations: json.observations as unknown[], dones: json.dones as unknown[], valids: json.valids as unknown[], infos };
  }

  async dispose(): Promise<void> {
    this.flush();
    this.closing.abort();
    await this.pool.destroy().catch(() => undefined);
  }
}
