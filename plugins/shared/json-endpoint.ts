import { Pool } from 'undici';

export interface EndpointOptions {
  /** Keep-alive connections to the server. */
  connections: number;
  keepAliveMs: number;
  connectTimeoutMs: number;
}

/**
 * Why one attempt failed. `refused` and `closed` happened before any answer (the server looks down),
 * `dropped` while the answer was being read; `status` is an HTTP error answer, `malformed` an
 * answer that is not JSON.
 */
export type FailureKind = 'timeout' | 'refused' | 'closed' | 'failed' | 'dropped' | 'status' | 'malformed';

/** One failed attempt; callers decide what a kind means for their retries and their servers. */
export class HttpAttemptError extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HttpAttemptError';
  }

  /** Whether another attempt may succeed: all but HTTP 4xx answers other than 408 and 429. */
  get retryable(): boolean {
    const s = this.status ?? 0;
    return this.kind !== 'status' || s >= 500 || s === 408 || s === 429;
  }
}

/** The caller's signal aborted the attempt. */
export class HttpCancelledError extends Error {
  constructor(message = 'the request was cancelled') {
    super(message);
    this.name = 'HttpCancelledError';
  }
}

/**
 * The server's own message when it sent an error object (OpenAI's `error`, FastAPI's `detail`, or
 * its 422 list of `{loc, msg}`), else the start of the body.
 */
export function errorDetail(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { message?: string } | string; message?: string; detail?: unknown };
    const d = j.detail;
    const detail =
      typeof d === 'string'
        ? d
        : Array.isArray(d)
          ? d
              .map(
                (e: { loc?: unknown; msg?: unknown }) =>
                  `${Array.isArray(e?.loc) ? e.loc.join('.') : '?'}: ${String(e?.msg ?? JSON.stringify(e))}`,
              )
              .join('; ')
          : d === undefined
            ? undefined
            : JSON.stringify(d);
    const m = typeof j.error === 'string' ? j.error : (j.error?.message ?? j.message ?? detail);
    if (m) return m.slice(0, 300);
  } catch {
    // not JSON: the raw text
  }
  return text.slice(0, 300) || '(empty body)';
}

const REFUSED = /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|EAI_AGAIN|UND_ERR_CONNECT/;
const CLOSED = /ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED/;

/** A keep-alive connection pool to one server, sending JSON and reading JSON, one attempt per call. */
export class JsonEndpoint {
  readonly pool: Pool;
  readonly origin: string;
  /** The URL's path without trailing slashes ('' for a bare host). */
  readonly basePath: string;

  constructor(
    readonly url: string,
    opts: EndpointOptions,
  ) {
    const u = new URL(url);
    this.origin = u.origin;
    this.basePath = u.pathname.replace(/\/+$/, '');
    this.pool = new Pool(u.origin, {
      connections: opts.connections,
      keepAliveTimeout: opts.keepAliveMs,
      connect: { timeout: opts.connectTimeoutMs },
    });
  }

  /** `route` under the URL's path, or the URL's path itself when it already ends with it. */
  routePath(route: string): string {
    return this.basePath.endsWith(route) ? this.basePath : `${this.basePath}${route}`;
  }

  /**
   * One attempt: POST `body` as JSON (GET when it is undefined) to `path` on the server, and parse
   * the answer. Throws HttpAttemptError, or HttpCancelledError when `signal` aborted it. `label`
   * starts every error message (default: method and URL).
   */
  async request(
    path: string,
    body: unknown,
    o: { headers?: Record<string, string>; timeoutMs: number; signal?: AbortSignal; label?: string },
  ): Promise<unknown> {
    const timeout = AbortSignal.timeout(o.timeoutMs);
    const signal = o.signal ? AbortSignal.any([o.signal, timeout]) : timeout;
    const method = body === undefined ? 'GET' : 'POST';
    const where = o.label ?? `${method} ${this.origin}${path}`;
    const fail = (e: unknown, reading: boolean): never => {
      if (o.signal?.aborted) throw new HttpCancelledError(`${where}: cancelled`);
      const code = (e as { code?: string }).code ?? (e as { cause?: { code?: string } }).cause?.code ?? '';
      if (timeout.aborted || /UND_ERR_(HEADERS|BODY)_TIMEOUT/.test(code))
        throw new HttpAttemptError(`${where}: no answer within ${o.timeoutMs} ms`, 'timeout');
      const detail = `(${code || (e as Error).message})`;
      if (reading)
        throw new HttpAttemptError(`${where}: connection dropped while reading the answer ${detail}`, 'dropped');
      if (REFUSED.test(code)) throw new HttpAttemptError(`${where}: connection failed ${detail}`, 'refused');
      if (CLOSED.test(code))
        throw new HttpAttemptError(`${where}: connection closed before the answer ${detail}`, 'closed');
      throw new HttpAttemptError(`${where}: request failed ${detail}`, 'failed');
    };
    let res;
    try {
      res = await this.pool.request({
        method,
        path,
        headers: { ...o.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        headersTimeout: o.timeoutMs,
        bodyTimeout: o.timeoutMs,
      });
    } catch (e) {
      return fail(e, false);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (e) {
      return fail(e, true);
    }
    if (res.statusCode >= 400)
      throw new HttpAttemptError(`${where}: HTTP ${res.statusCode}: ${errorDetail(text)}`, 'status', res.statusCode);
    try {
      return JSON.parse(text);
    } catch {
      throw new HttpAttemptError(
        `${where}: malformed JSON in the answer (${text.length} bytes: ${JSON.stringify(text.slice(0, 80))})`,
        'malformed',
      );
    }
  }

  /** Lets requests in flight finish, then closes the connections. */
  close(): Promise<void> {
    return this.pool.close();
  }

  /** Closes the connections now, failing requests in flight. */
  destroy(): Promise<void> {
    return this.pool.destroy().catch(() => undefined);
  }
}
