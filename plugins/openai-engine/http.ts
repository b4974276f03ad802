import { Pool } from 'undici';
import { ProtocolError } from './protocol.js';

/** One failed attempt. `retryable`: connection errors, timeouts, 5xx, 408, 429 and malformed answers. */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** The endpoint itself looks down (connection refused / reset, or no answer in time), not just this request. */
    readonly endpointDown: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

export class AbortError extends Error {
  constructor(message = 'the request was cancelled') {
    super(message);
    this.name = 'AbortError';
  }
}

export interface HttpOptions {
  connections: number;
  keepAliveMs: number;
  connectTimeoutMs: number;
}

/** A keep-alive connection pool to one OpenAI-compatible base URL (e.g. http://host:8000/v1). */
export class Endpoint {
  readonly pool: Pool;
  readonly basePath: string;

  constructor(readonly url: string, opts: HttpOptions) {
    const u = new URL(url);
    this.basePath = u.pathname.replace(/\/+$/, '');
    this.pool = new Pool(u.origin, {
      connections: opts.connections,
      keepAliveTimeout: opts.keepAliveMs,
      connect: { timeout: opts.connectTimeoutMs },
    });
  }

  /**
   * One attempt: POST (or GET when body is undefined) and parse JSON; throws RequestError or
   * AbortError. `route` is under the base URL (/v1), or under the server root with `atRoot`.
   */
  async call(route: string, body: unknown, opts: { headers: Record<string, string>; timeoutMs: number; signal?: AbortSignal; atRoot?: boolean }): Promise<unknown> {
    const timeout = AbortSignal.timeout(opts.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const urlPath = (opts.atRoot ? '' : this.basePath) + route;
    const where = `${body === undefined ? 'GET' : 'POST'} ${new URL(this.url).origin}${urlPath}`;
    const fail = (e: unknown, stage: string): never => {
      if (opts.signal?.aborted) throw new AbortError(`${where}: cancelled`);
      const code = (e as { code?: string }).code ?? (e as { cause?: { code?: string } }).cause?.code ?? '';
      // A hung server stays hung: the retry must go elsewhere, and new work too for a while.
      if (timeout.aborted || /UND_ERR_(HEADERS|BODY)_TIMEOUT/.test(code)) throw new RequestError(`${where}: no complete answer within ${opts.timeoutMs} ms`, true, true);
      const refused = /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|EAI_AGAIN|UND_ERR_CONNECT/.test(code);
      const closed = /ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED/.test(code);
      const what = stage === 'body' ? 'connection dropped while reading the answer' : refused ? 'connection failed' : closed ? 'connection closed before the answer' : 'request failed';
      throw new RequestError(`${where}: ${what} (${code || (e as Error).message})`, true, stage === 'connect' && (refused || closed));
    };
    let res;
    try {
      res = await this.pool.request({
        method: body === undefined ? 'GET' : 'POST',
        path: urlPath,
        headers: { ...opts.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        headersTimeout: opts.timeoutMs,
        bodyTimeout: opts.timeoutMs,
      });
    } catch (e) {
      return fail(e, 'connect');
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (e) {
      return fail(e, 'body');
    }
    const status = res.statusCode;
    if (status >= 400) {
      const retryable = status >= 500 || status === 408 || status === 429;
      throw new RequestError(`${where}: HTTP ${status}: ${errorSnippet(text)}`, retryable, false, status);
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new ProtocolError(`${where}: malformed JSON in the answer (${text.length} bytes: ${JSON.stringify(text.slice(0, 80))})`);
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** The server's own error message when it sent an OpenAI-style error object, else the start of the body. */
function errorSnippet(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { message?: string } | string; message?: string; detail?: unknown };
    const m = typeof j.error === 'string' ? j.error : j.error?.message ?? j.message ?? (j.detail !== undefined ? JSON.stringify(j.detail) : undefined);
    if (m) return m.slice(0, 300);
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.slice(0, 300) || '(empty body)';
}
