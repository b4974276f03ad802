/**
 * Request checks shared by `agent0 serve` and `agent0 tool-server`: both run work on behalf of
 * whoever reaches their port, and a web page in a local browser can reach a loopback port. The
 * browser sends "simple" cross-site POSTs (text/plain, forms) without asking, and DNS rebinding
 * makes it send same-origin ones with a foreign Host. Programs (openai, undici, requests) send
 * application/json, a loopback Host and no Origin, so they pass.
 */
import type http from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';

/** A request refused before any work, with the status and message the client gets. */
export class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpRefusal';
  }
}

export function isLoopback(address: string): boolean {
  return address === '::1' || address === 'localhost' || /^(::ffff:)?127\./.test(address);
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Why a server must not listen on `host` without a bearer token, or undefined when it may: off
 * loopback (0.0.0.0, ::, a LAN address) the Host check cannot tell the machine's own names from a
 * rebinding attacker's, so anyone on the network, and any web page through DNS rebinding, could
 * use it. `flag` names the option that sets the token.
 */
export function unprotectedExposure(host: string, apiKey: string | undefined, flag: string): string | undefined {
  if (apiKey || isLoopback(host.replace(/^\[(.*)\]$/, '$1'))) return undefined;
  return `--host ${host} is not a loopback address: without a token anyone who can reach it, and any web page through DNS rebinding, could use this server; set ${flag} VAR (a bearer token) or listen on 127.0.0.1`;
}

/** The name part of a Host header (IPv6 kept in brackets), lower-cased; undefined when malformed. */
function hostName(host: string): string | undefined {
  return /^(\[[0-9a-f:.]+\]|[^:[\]/\s]+)(?::\d{1,5})?$/i.exec(host.trim())?.[1]?.toLowerCase();
}

/**
 * Refuses (403) a foreign Host on a server bound to loopback (DNS rebinding) and, on any server,
 * an Origin other than the server's own (a page on another site or port).
 */
export function checkBrowserSafety(req: http.IncomingMessage, boundAddress: string): void {
  const host = req.headers.host;
  if (isLoopback(boundAddress) && host !== undefined) {
    const name = hostName(host);
    const bound = boundAddress.includes(':') ? `[${boundAddress}]` : boundAddress;
    if (name === undefined || !(LOOPBACK_HOSTS.has(name) || name === bound)) {
      throw new HttpRefusal(
        403,
        `Host '${host}' is refused: this server listens on loopback (${boundAddress}) and answers only Host 127.0.0.1, localhost or [::1]`,
      );
    }
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let own: boolean;
    try {
      own = host !== undefined && new URL(origin).origin === new URL(`http://${host}`).origin;
    } catch {
      own = false; // 'null' and other unparsable origins
    }
    if (!own)
      throw new HttpRefusal(403, `cross-origin request refused (Origin ${origin}): web pages may not call this server`);
  }
}

/** 415 unless the body is declared JSON: browsers send text/plain and form bodies cross-site without a preflight. */
export function requireJson(req: http.IncomingMessage): void {
  const type = req.headers['content-type'];
  if ((type ?? '').split(';')[0]!.trim().toLowerCase() !== 'application/json') {
    throw new HttpRefusal(
      415,
      `the body must be sent with Content-Type: application/json (got ${type === undefined ? 'none' : `'${type}'`})`,
    );
  }
}

/** Constant-time comparison of the presented bearer token with the key (hashed to equal lengths). */
export function bearerMatches(header: string | undefined, key: string): boolean {
  const token = /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1] ?? '';
  const h = (x: string) => createHash('sha256').update(x).digest();
  return timingSafeEqual(h(token), h(key));
}

/**
 * Caps the bytes of request bodies being read and parsed at once, over all requests: each body is
 * capped on its own, but many large ones arriving together would still exhaust memory. A body
 * holds its declared Content-Length (or what has arrived, if more or undeclared) until parsed.
 */
export class BodyBudget {
  private held = 0;

  /** `flag`: the option that raises the limit, named in the refusal. */
  constructor(
    readonly totalBytes: number,
    private readonly flag: string,
  ) {}

  get bytesHeld(): number {
    return this.held;
  }

  /** Reads a body of at most `maxBytes` and parses it as JSON; 413, 503 (budget spent) or 400 otherwise. */
  readJson(req: http.IncomingMessage, maxBytes: number): Promise<unknown> {
    const tooLarge = () => new HttpRefusal(413, `the body is larger than ${maxBytes} bytes`);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(tooLarge());
    let mine = 0;
    const grow = (bytes: number): HttpRefusal | undefined => {
      if (bytes <= mine) return undefined;
      if (this.held + bytes - mine > this.totalBytes) {
        return new HttpRefusal(
          503,
          `the server is busy reading other request bodies (${this.held} bytes; at most ${this.totalBytes} at once, ${this.flag}): retry shortly`,
          { 'retry-after': '1' },
        );
      }
      this.held += bytes - mine;
      mine = bytes;
      return undefined;
    };
    const early = Number.isFinite(declared) ? grow(declared) : undefined;
    if (early) return Promise.reject(early);
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        req.off('data', onData);
        // Any rest of the body is drained unread, so the answer can still go out.
        req.resume();
        try {
          fn();
        } finally {
          this.held -= mine;
          mine = 0;
        }
      };
      const onData = (c: Buffer) => {
        size += c.length;
        const refusal = size > maxBytes ? tooLarge() : grow(size);
        if (refusal) return settle(() => reject(refusal));
        chunks.push(c);
      };
      req.on('data', onData);
      req.on('end', () =>
        settle(() => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks, size).toString('utf8')));
          } catch (e) {
            reject(new HttpRefusal(400, `the body is not valid JSON: ${(e as Error).message}`));
          }
        }),
      );
      req.on('error', (e) => settle(() => reject(e)));
      req.on('close', () =>
        settle(() => reject(new HttpRefusal(400, 'the client closed the connection before sending the whole body'))),
      );
    });
  }
}
