import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../core/index.js';
// Shared with agent0 serve, which faces the same browser and load threats.
import {
  bearerMatches,
  BodyBudget,
  checkBrowserSafety,
  HttpRefusal,
  requireJson,
  unprotectedExposure,
} from '../../core/index.js';
import { ToolDispatcher, type DispatcherOptions, type ToolSet } from './dispatcher.js';
import { BadRequestError, parseObservationRequest, type FieldError } from './protocol.js';

export interface ToolServerOptions extends DispatcherOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  maxBodyBytes: number;
  /** Bytes of request bodies read at once, over all requests (default 4 x maxBodyBytes). */
  maxTotalBodyBytes?: number;
  /** Most actions per request (default 16384). */
  maxItemsPerRequest?: number;
  /** When set, every route but /health wants `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  log?: Logger;
}

export interface ToolServerHandle {
  readonly url: string;
  readonly dispatcher: ToolDispatcher;
  /** Stops accepting, waits for requests in flight, then frees every trajectory. */
  close(): Promise<void>;
}

/** FastAPI answers a body it cannot validate with 422 and a list of errors; VeRL-Tool clients see that shape. */
class ValidationRefusal extends HttpRefusal {
  constructor(
    readonly errors: FieldError[],
    message: string,
  ) {
    super(422, message);
  }
}

async function readBody(budget: BodyBudget, req: http.IncomingMessage, maxBytes: number): Promise<unknown> {
  try {
    return await budget.readJson(req, maxBytes);
  } catch (e) {
    if (e instanceof HttpRefusal && e.status === 400 && e.message.startsWith('the body is not valid JSON')) {
      throw new ValidationRefusal([{ type: 'json_invalid', loc: ['body'], msg: e.message }], e.message);
    }
    throw e;
  }
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Serves `workers` (one tool set each) with VeRL-Tool's HTTP contract on node:http. */
export async function startToolServer(workers: readonly ToolSet[], opts: ToolServerOptions): Promise<ToolServerHandle> {
  // Its tools run code: never reachable off loopback without a token.
  const exposed = unprotectedExposure(opts.host, opts.apiKey, '--api-key-env');
  if (exposed) throw new Error(`tool-server: ${exposed}`);
  const dispatcher = new ToolDispatcher(workers, opts);
  const budget = new BodyBudget(opts.maxTotalBodyBytes ?? 4 * opts.maxBodyBytes, 'tool-server --max-total-body-mb');
  const maxItems = opts.maxItemsPerRequest ?? 16384;
  const server = http.createServer(async (req, res) => {
    const route = (req.url ?? '/').split('?')[0];
    try {
      checkBrowserSafety(req, (server.address() as AddressInfo | null)?.address ?? opts.host);
      if (route === '/health' && req.method === 'GET') {
        send(res, 200, {
          status: 'healthy',
          tools: dispatcher.toolNames,
          workers: workers.length,
          maxConcurrency: opts.maxConcurrency,
          observationFormats: dispatcher.observationFormats,
        });
        return;
      }
      if (opts.apiKey !== undefined && !bearerMatches(req.headers.authorization, opts.apiKey)) {
        throw new HttpRefusal(401, 'missing or wrong API key (Authorization: Bearer ...)');
      }
      if (route === '/get_observation') {
        if (req.method !== 'POST') throw new HttpRefusal(405, 'use POST /get_observation');
        requireJson(req);
        let items;
        try {
          items = parseObservationRequest(await readBody(budget, req, opts.maxBodyBytes), maxItems);
        } catch (e) {
          if (e instanceof BadRequestError || e instanceof ValidationRefusal) dispatcher.counts.badRequests++;
          if (e instanceof BadRequestError)
            throw e.errors.length > 0
              ? new ValidationRefusal(e.errors, e.message)
              : new HttpRefusal(e.status, e.message);
          throw e;
        }
        send(res, 200, await dispatcher.handle(items));
      } else if (route === '/metrics' && req.method === 'GET') {
        send(res, 200, dispatcher.metrics());
      } else {
        throw new HttpRefusal(
          404,
          `no route ${req.method} ${route}: use POST /get_observation, GET /health or GET /metrics`,
        );
      }
    } catch (e) {
      const status = e instanceof HttpRefusal ? e.status : 500;
      if (status === 500) opts.log?.error(`tool-server: ${(e as Error).stack ?? e}`);
      const detail = e instanceof ValidationRefusal ? e.errors : (e as Error).message;
      if (!res.headersSent) send(res, status, { detail }, e instanceof HttpRefusal ? e.headers : {});
      else res.destroy();
    }
  });
  // Slow clients must not hold sockets forever; a request's own work is bounded by the dispatcher.
  server.requestTimeout = opts.requestTimeoutMs + 30_000;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    dispatcher,
    close: async () => {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeIdleConnections();
      });
      await dispatcher.finishAll();
    },
  };
}
