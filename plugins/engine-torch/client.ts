import { Pool } from 'undici';
import { BINARY_TYPE, decodeBinary, encodeBinary } from './codec.js';

/** The protocol this controller speaks (the service reports its own in GET /agent0/info). */
export const PROTOCOL_VERSION = 1;

/** What GET /agent0/info answers. */
export interface ServiceInfo {
  service: string;
  protocol: number;
  version: string;
  torch: string;
  transformers: string | null;
  world_size: number;
  device: string;
  device_name: string;
  models: Record<string, unknown>[];
}

export class TrainerError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'TrainerError';
  }
}

export interface ClientOptions {
  url: string;
  token?: string;
  /** Wall-clock limit of one operation (queueing included). */
  requestTimeoutMs: number;
  /** Subscribes to the death of a launched service (cb gets the reason); returns the unsubscribe. */
  onDeath?: (cb: (why: string) => void) => () => void;
  /** The last lines the service printed, for error messages. */
  tail?: () => string[];
}

/**
 * HTTP client of the trainer service: Tinker-shaped training calls (POST → future → retrieve_future
 * long-polls), binary tensor bodies, /v1/completions. Every call fails with a located error, never
 * a hang, when the service dies, times out or speaks another protocol.
 */
export class TrainerClient {
  private readonly pool: Pool;
  private readonly origin: string;
  private readonly base: string;

  constructor(readonly opts: ClientOptions) {
    const u = new URL(opts.url);
    this.origin = u.origin;
    this.base = u.pathname.replace(/\/+$/, '');
    this.pool = new Pool(this.origin, { connections: 16, headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 60_000 });
  }

  private headers(binary: boolean): Record<string, string> {
    return {
      'content-type': binary ? BINARY_TYPE : 'application/json',
      accept: `${BINARY_TYPE}, application/json`,
      ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}),
    };
  }

  private async http(
    method: 'GET' | 'POST',
    route: string,
    body: unknown,
    binary: boolean,
    signal: AbortSignal,
  ): Promise<{ status: number; body: unknown }> {
    const payload = method === 'GET' ? undefined : binary ? encodeBinary(body) : JSON.stringify(body);
    let res;
    try {
      res = await this.pool.request({
        method,
        path: this.base + route,
        headers: this.headers(binary),
        ...(payload !== undefined ? { body: payload } : {}),
        signal,
      });
    } catch (e) {
      if (signal.aborted)
        throw signal.reason instanceof Error ? signal.reason : new TrainerError(String(signal.reason));
      throw new TrainerError(`trainer service at ${this.origin} is unreachable (${(e as Error).message})`);
    }
    const raw = new Uint8Array(await res.body.arrayBuffer());
    const ctype = String(res.headers['content-type'] ?? '');
    let parsed: unknown;
    try {
      parsed = ctype.startsWith(BINARY_TYPE)
        ? decodeBinary(raw)
        : raw.length
          ? JSON.parse(Buffer.from(raw).toString('utf8'))
          : null;
    } catch (e) {
      throw new TrainerError(`trainer service ${route}: unreadable reply (${(e as Error).message})`, res.statusCode);
    }
    return { status: res.statusCode, body: parsed };
  }

  /** Runs fn with a signal that aborts on timeout or on the service's death, naming which. */
  private async guarded<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    const timer = setTimeout(
      () =>
        ac.abort(
          new TrainerError(
            `trainer service: ${what} did not finish within ${this.opts.requestTimeoutMs} ms (requestTimeoutMs)`,
          ),
        ),
      this.opts.requestTimeoutMs,
    );
    const deathError = (why: string) => {
      const tail = (this.opts.tail?.() ?? []).slice(-12).join('\n');
      return new TrainerError(`trainer service died during ${what} (${why})${tail ? `:\n${tail}` : ''}`);
    };
    let died: string | undefined;
    const unsubscribe =
      this.opts.onDeath?.((why) => {
        died = why;
        ac.abort(deathError(why));
      }) ?? (() => undefined);
    try {
      return await fn(ac.signal);
    } catch (e) {
      if (ac.signal.aborted && ac.signal.reason instanceof Error) throw ac.signal.reason;
      // a dropped connection usually arrives before the process's exit: give the exit a moment to explain it
      if (this.opts.onDeath && e instanceof TrainerError && /unreachable|unreadable/.test(e.message)) {
        for (let i = 0; i < 40 && died === undefined; i++) await new Promise((r) => setTimeout(r, 50));
        if (died !== undefined) throw deathError(died);
      }
      throw e;
    } finally {
      unsubscribe();
      clearTimeout(timer);
    }
  }

  private failure(route: string, status: number, body: unknown): TrainerError {
    const b = body as { detail?: unknown; error?: unknown } | null;
    const detail =
      typeof b?.detail === 'string'
        ? b.detail
        : typeof b?.error === 'string'
          ? b.error
          : JSON.stringify(body)?.slice(0, 300);
    return new TrainerError(`trainer service ${route} → ${status}: ${detail}`, status);
  }

  /** GET /agent0/info, checking the protocol version. */
  async info(): Promise<ServiceInfo> {
    return this.guarded('info', async (signal) => {
      const r = await this.http('GET', '/agent0/info', undefined, false, signal);
      if (r.status !== 200) throw this.failure('/agent0/info', r.status, r.body);
      const info = r.body as ServiceInfo;
      if (info?.service !== 'agent0-trainer')
        throw new TrainerError(
          `${this.origin} is not an agent0 trainer service (GET /agent0/info said ${JSON.stringify(r.body)?.slice(0, 120)})`,
        );
      if (info.protocol !== PROTOCOL_VERSION) {
        throw new TrainerError(
          `the trainer service at ${this.origin} speaks protocol ${info.protocol}, this agent0 speaks ${PROTOCOL_VERSION} (agent0-trainer ${info.version}); use the service shipped with this agent0`,
        );
      }
      return info;
    });
  }

  /** A Tinker-style asynchronous call: POST, then retrieve_future until the result is in. */
  async call<T>(route: string, body: unknown, binary = false): Promise<T> {
    return this.guarded(route, async (signal) => {
      const r = await this.http('POST', route, body, binary, signal);
      if (r.status !== 200) throw this.failure(route, r.status, r.body);
      const rid = (r.body as { request_id?: unknown })?.request_id;
      if (typeof rid !== 'string')
        throw new TrainerError(`trainer service ${route}: no request_id in ${JSON.stringify(r.body)?.slice(0, 120)}`);
      for (;;) {
        const f = await this.http('POST', '/api/v1/retrieve_future', { request_id: rid }, false, signal);
        if (f.status === 200) return f.body as T;
        if (f.status !== 408) throw this.failure(route, f.status, f.body);
      }
    });
  }

  /** A route answered directly (no future), e.g. /agent0/memory. */
  async post<T>(route: string, body: unknown): Promise<T> {
    return this.guarded(route, async (signal) => {
      const r = await this.http('POST', route, body, false, signal);
      if (r.status !== 200) throw this.failure(route, r.status, r.body);
      return r.body as T;
    });
  }

  /** POST /v1/completions (answered directly). */
  async completions(
    body: Record<string, unknown>,
    abort?: AbortSignal,
  ): Promise<{ choices: Record<string, unknown>[] }> {
    return this.guarded('/v1/completions', async (own) => {
      const signal = abort ? AbortSignal.any([own, abort]) : own;
      const r = await this.http('POST', '/v1/completions', body, false, signal);
      if (r.status !== 200) throw this.failure('/v1/completions', r.status, r.body);
      return r.body as { choices: Record<string, unknown>[] };
    });
  }

  /** Asks the service to exit (launched services); ignores a service that is already gone. */
  async shutdown(): Promise<void> {
    const ac = new AbortController();
    const t = setTimeout(() => ac.abort(), 30_000);
    try {
      await this.http('POST', '/agent0/shutdown', {}, false, ac.signal);
    } catch {
      // already gone
    } finally {
      clearTimeout(t);
    }
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => undefined);
  }
}
