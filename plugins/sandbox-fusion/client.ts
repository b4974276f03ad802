import { HttpAttemptError, HttpCancelledError, JsonEndpoint } from '../shared/json-endpoint.js';
import { LeastBusy } from '../shared/least-busy.js';
import { withRetries } from '../shared/retry.js';
import { ProtocolError, parseRunCodeResponse, type RunCodeRequest, type RunCodeResponse } from './protocol.js';

export interface ClientOptions {
  urls: string[];
  /** Whole-request budget per attempt (connect + run + answer). */
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  /** Extra attempts after the first, on connection errors, timeouts, 5xx/408/429 and malformed answers. */
  retries: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Keep-alive connections per URL. */
  connections: number;
  keepAliveMs: number;
  /** How long a URL that refused a connection is skipped while others are up. */
  cooldownMs: number;
  /**
   * Retry answers with status SandboxError (the sandbox broke, not the program), on another server
   * when there is one. The same SandboxError twice is taken as caused by the request and returned.
   */
  retrySandboxErrors: boolean;
  rand?: () => number;
}

/** One failed attempt; `retryable` says whether another attempt may succeed. */
export class AttemptError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly endpointDown = false,
  ) {
    super(message);
    this.name = 'AttemptError';
  }
}

export class CancelledError extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}

/** The client gave up: every attempt failed. `attempts` lists why, oldest first. */
export class SandboxUnavailableError extends Error {
  constructor(readonly attempts: string[]) {
    super(`SandboxFusion request failed after ${attempts.length} attempt(s): ${attempts[attempts.length - 1]}`);
    this.name = 'SandboxUnavailableError';
  }
}

/**
 * What identifies one SandboxError across attempts: its message without the parts that differ
 * from run to run (temporary folders, addresses, pids, timings).
 */
export function sandboxErrorKey(res: RunCodeResponse): string {
  const text = res.message || res.run_result?.stderr || res.compile_result?.stderr || '';
  return text
    .replace(/\/tmp\/[^\s'"]*/g, '<tmp>')
    .replace(/0x[0-9a-f]+/gi, '<addr>')
    .replace(/\d+(\.\d+)?/g, '<n>')
    .trim();
}

class Endpoint {
  readonly http: JsonEndpoint;
  /** A base URL or the full route both work: http://h:8080 and http://h:8080/run_code. */
  readonly path: string;
  calls = 0;
  failures = 0;

  constructor(
    readonly url: string,
    opts: ClientOptions,
  ) {
    this.http = new JsonEndpoint(url, opts);
    this.path = this.http.routePath('/run_code');
  }
}

export interface EndpointStats {
  url: string;
  calls: number;
  failures: number;
  inFlight: number;
}

/**
 * A SandboxFusion client over several servers: each attempt goes to the server with the fewest
 * requests in flight (a server that refused connections cools down), failed attempts are retried on
 * another server after a jittered exponential backoff, and every attempt has its own timeout.
 */
export class SandboxFusionClient {
  private readonly endpoints: Endpoint[];
  private readonly balancer: LeastBusy;
  private readonly closing = new AbortController();

  constructor(private readonly opts: ClientOptions) {
    if (opts.urls.length === 0) throw new Error('sandbox-fusion: urls must name at least one server');
    this.endpoints = opts.urls.map((u) => new Endpoint(u, opts));
    this.balancer = new LeastBusy(this.endpoints.length, { cooldownMs: opts.cooldownMs });
  }

  stats(): EndpointStats[] {
    const inFlight = this.balancer.inFlight();
    return this.endpoints.map((e, i) => ({ url: e.url, calls: e.calls, failures: e.failures, inFlight: inFlight[i] }));
  }

  /** Runs one program; throws SandboxUnavailableError when every attempt failed, CancelledError when aborted. */
  async run(req: RunCodeRequest, signal?: AbortSignal): Promise<RunCodeResponse> {
    const cancel = signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal;
    const failed: string[] = [];
    const tried = new Set<number>();
    const sandboxErrors = new Set<string>();
    const out = await withRetries(
      async (attempt) => {
        const i = this.pick(tried);
        tried.add(i);
        const ep = this.endpoints[i];
        this.balancer.take(i);
        ep.calls++;
        try {
          const res = await this.attempt(ep, req, cancel);
          if (res.status === 'SandboxError' && this.opts.retrySandboxErrors && attempt < this.opts.retries) {
            // A repeat means the request (its code, files or language) breaks the sandbox every time.
            const key = sandboxErrorKey(res);
            if (!sandboxErrors.has(key)) {
              sandboxErrors.add(key);
              throw new AttemptError(`${ep.url}: SandboxError: ${res.message.slice(0, 200) || '(no message)'}`, true);
            }
          }
          this.balancer.markUp(i);
          return res;
        } catch (e) {
          if (e instanceof CancelledError) throw e;
          const err = e instanceof AttemptError ? e : new AttemptError(`${ep.url}: ${(e as Error).message}`, true);
          ep.failures++;
          if (err.endpointDown) this.balancer.markDown(i);
          failed.push(err.message);
          throw err;
        } finally {
          this.balancer.release(i);
        }
      },
      this.opts,
      {
        signal: cancel,
        rand: this.opts.rand,
        onFailure: (e) =>
          e instanceof CancelledError ? 'cancelled' : (e as AttemptError).retryable ? 'retry' : 'stop',
      },
    );
    if (out.ok) return out.value;
    if (out.reason === 'cancelled') throw new CancelledError();
    throw new SandboxUnavailableError(failed);
  }

  /** Least in flight among servers not cooling down, preferring ones this request has not tried. */
  private pick(tried: ReadonlySet<number>): number {
    const now = this.balancer.now();
    const up = (i: number) => this.balancer.isUp(i, now);
    return this.balancer.pick([(i) => up(i) && !tried.has(i), up, (i) => !tried.has(i)]);
  }

  private async attempt(ep: Endpoint, req: RunCodeRequest, cancel: AbortSignal): Promise<RunCodeResponse> {
    let json: unknown;
    try {
      json = await ep.http.request(ep.path, req, {
        timeoutMs: this.opts.requestTimeoutMs,
        signal: cancel,
        label: ep.url,
      });
    } catch (e) {
      if (e instanceof HttpCancelledError) throw new CancelledError();
      // A timeout is the program's as likely as the server's: only a refused connection cools a server down.
      if (e instanceof HttpAttemptError) throw new AttemptError(e.message, e.retryable, e.kind === 'refused');
      throw e;
    }
    try {
      return parseRunCodeResponse(json);
    } catch (e) {
      if (e instanceof ProtocolError) throw new AttemptError(`${ep.url}: unexpected answer: ${e.message}`, true);
      throw e;
    }
  }

  /** Cancels requests in flight and closes the connection pools. */
  async close(): Promise<void> {
    this.closing.abort();
    await Promise.all(this.endpoints.map((e) => e.http.destroy()));
  }
}
