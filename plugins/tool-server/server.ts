import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../core/index.js';
import { ToolDispatcher, type DispatcherOptions, type ToolSet } from './dispatcher.js';
import { BadRequestError, parseObservationRequest } from './protocol.js';

export interface ToolServerOptions extends DispatcherOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  maxBodyBytes: number;
  log?: Logger;
}

export interface ToolServerHandle {
  readonly url: string;
  readonly dispatcher: ToolDispatcher;
  /** Stops accepting, waits for requests in flight, then frees every trajectory. */
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HttpError(413, `the body is larger than ${limit} bytes`));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Serves `workers` (one tool set each) with VeRL-Tool's HTTP contract on node:http. */
export async function startToolServer(workers: readonly ToolSet[], opts: ToolServerOptions): Promise<ToolServerHandle> {
  const dispatcher = new ToolDispatcher(workers, opts);
  const server = http.createServer(async (req, res) => {
    const route = (req.url ?? '/').split('?')[0];
    try {
      if (route === '/get_observation') {
        if (req.method !== 'POST') throw new HttpError(405, 'use POST /get_observation');
        const text = await readBody(req, opts.maxBodyBytes);
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch (e) {
          throw new HttpError(400, `the body is not valid JSON: ${(e as Error).message}`);
        }
        let items;
        try {
          items = parseObservationRequest(body);
        } catch (e) {
          if (e instanceof BadRequestError) {
            dispatcher.counts.badRequests++;
            throw new HttpError(400, e.message);
          }
          throw e;
        }
        send(res, 200, await dispatcher.handle(items));
      } else if (route === '/health' && req.method === 'GET') {
        send(res, 200, { status: 'healthy', tools: dispatcher.toolNames, workers: workers.length, maxConcurrency: opts.maxConcurrency });
      } else if (route === '/metrics' && req.method === 'GET') {
        send(res, 200, dispatcher.metrics());
      } else {
        throw new HttpError(404, `no route ${req.method} ${route}: use POST /get_observation, GET /health or GET /metrics`);
      }
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) opts.log?.error(`tool-server: ${(e as Error).stack ?? e}`);
      if (!res.headersSent) send(res, status, { detail: (e as Error).message });
      else res.destroy();
    }
  });
  // Slow clients must not hold sockets forever; a request's own work is bounded by the dispatcher.
  server.requestTimeout = opts.requestTimeoutMs + 30_000;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    dispatcher,
    close: async () => {
      await new Promise<void>((r) => { server.close(() => r()); server.closeIdleConnections(); });
      await dispatcher.finishAll();
    },
  };
}
