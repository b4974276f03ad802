import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { AgentLoop, Logger, RolloutEngine } from '../../core/index.js';
import {
  bearerMatches,
  BodyBudget,
  checkBrowserSafety,
  generateStreaming,
  HttpRefusal,
  requireJson,
} from '../../core/index.js';
import { ApiError, parseChatRequest, parseCompletionRequest, type GenRequest, type ServerLimits } from './request.js';
import { responseBody, type ChoiceResult } from './response.js';
import { SseWriter } from './sse.js';
import { StreamAnswer } from './stream.js';
import { runToolMode } from './tools.js';

/** The model-name suffix that selects the tool-integrated mode. */
export const TOOLS_SUFFIX = ':tools';

export interface ServerOptions {
  /** Generates for every request (a BatchingEngine in front of the policy). */
  engine: RolloutEngine;
  modelName: string;
  /** The recipe's agent loop; present: `<model>:tools` runs it with the recipe's tools. */
  loop?: AgentLoop;
  limits: ServerLimits;
  log?: Logger;
  maxBodyBytes?: number;
  /** Bytes of request bodies read at once, over all requests (default 64 MiB). */
  maxTotalBodyBytes?: number;
  /** When set, every route but /health wants `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Present: `POST /update_weights_from_disk {model_path}` (SGLang's contract) calls it. */
  loadWeights?: (dir: string) => Promise<void>;
}

export interface RunningServer {
  /** Base URL, ending in /v1. */
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: http.ServerResponse, e: ApiError): void {
  sendJson(res, e.status, { error: { message: e.message, type: e.type, param: e.param, code: e.status } });
}

const REFUSAL_TYPES: Record<number, string> = { 403: 'permission_error', 503: 'server_busy' };

/** The first line of an error's message: no stack frames or internals reach a client. */
export function clientMessage(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return (text.split('\n').find((l) => l.trim().length > 0 && !/^\s+at /.test(l)) ?? 'failed').replace(
    /^(\w*Error): /,
    '',
  );
}

async function readJson(
  req: http.IncomingMessage,
  budget: BodyBudget,
  limit: number,
): Promise<Record<string, unknown>> {
  requireJson(req);
  const body = await budget.readJson(req, limit);
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new ApiError(400, 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

/** An OpenAI-compatible HTTP server over one RolloutEngine (and optionally an agent loop). */
export function createServer(opts: ServerOptions): http.Server {
  const tok = opts.engine.tokenizer;
  const names = [opts.modelName, ...(opts.loop ? [opts.modelName + TOOLS_SUFFIX] : [])];
  const started = Math.floor(Date.now() / 1000);
  const budget = new BodyBudget(opts.maxTotalBodyBytes ?? 64 * 1024 * 1024, 'serve --max-total-body-mb');

  /** `stream`: streamed answers hear of each token while the policy decodes (plain mode only). */
  const generate = async (
    g: GenRequest,
    toolMode: boolean,
    signal: AbortSignal,
    stream?: StreamAnswer,
  ): Promise<ChoiceResult[]> => {
    if (toolMode && opts.loop) {
      return runToolMode(opts.loop, opts.engine, randomUUID(), g.prompts, g.n, g.sampling, signal);
    }
    const rows = g.prompts.flatMap((p) => Array.from({ length: g.n }, () => p));
    const out = stream
      ? await generateStreaming(opts.engine, rows, g.sampling, (e) => stream.token(e), { signal })
      : await opts.engine.generate(rows, g.sampling, { signal });
    return out.map((completion) => ({ completion }));
  };

  /** Alternatives are computed by the policy; one that cannot is refused before any work. */
  const checkAlternatives = (g: GenRequest, toolMode: boolean): void => {
    const k = g.sampling.topLogprobs ?? 0;
    if (k === 0) return;
    const param = g.api === 'chat' ? 'top_logprobs' : 'logprobs';
    if (toolMode)
      throw new ApiError(
        400,
        `'${param}' alternatives are not available in tool mode (observation tokens have no distribution)`,
        param,
      );
    const most = opts.engine.maxTopLogprobs ?? 0;
    if (k > most)
      throw new ApiError(
        400,
        `this policy reports ${most === 0 ? 'no' : `at most ${most}`} alternatives per token; '${param}' asked for ${k}`,
        param,
      );
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://x');
    const route = url.pathname.replace(/\/+$/, '');
    checkBrowserSafety(req, (server.address() as AddressInfo | null)?.address ?? '127.0.0.1');
    if (req.method === 'GET' && (route === '/health' || route === '/v1/health'))
      return sendJson(res, 200, { status: 'ok' });
    if (opts.apiKey !== undefined && !bearerMatches(req.headers.authorization, opts.apiKey)) {
      throw new ApiError(401, 'missing or wrong API key (Authorization: Bearer ...)', null, 'authentication_error');
    }
    const card = (id: string) => ({ id, object: 'model', created: started, owned_by: 'agent0' });
    if (req.method === 'GET' && route === '/v1/models')
      return sendJson(res, 200, { object: 'list', data: names.map(card) });
    if (req.method === 'GET' && route.startsWith('/v1/models/')) {
      let id: string;
      try {
        id = decodeURIComponent(route.slice('/v1/models/'.length));
      } catch {
        throw new ApiError(400, 'the model id in the path is not valid percent-encoding', 'model');
      }
      if (!names.includes(id))
        throw new ApiError(
          404,
          `the model '${id}' does not exist; served: ${names.join(', ')}`,
          'model',
          'not_found_error',
        );
      return sendJson(res, 200, card(id));
    }
    if (route === '/update_weights_from_disk' && req.method === 'POST') {
      if (!opts.loadWeights)
        throw new ApiError(
          404,
          'weight reloads are off (start agent0 serve with --allow-reload)',
          null,
          'not_found_error',
        );
      const dir = (await readJson(req, budget, 64 * 1024)).model_path;
      if (typeof dir !== 'string' || dir.length === 0)
        throw new ApiError(400, "'model_path' must name a checkpoint folder", 'model_path');
      try {
        await opts.loadWeights(dir);
      } catch (e) {
        opts.log?.warn(`serve: loading ${dir} failed: ${(e as Error).stack ?? String(e)}`);
        // SGLang's answer shape, so clients of either read the same thing.
        return sendJson(res, 400, { success: false, message: `could not load ${dir}: ${clientMessage(e)}` });
      }
      opts.log?.info(`serve: loaded weights from ${dir}`);
      return sendJson(res, 200, { success: true, message: `loaded ${dir}` });
    }
    if (route !== '/v1/completions' && route !== '/v1/chat/completions')
      throw new ApiError(404, `no route ${req.method} ${url.pathname}`, null, 'not_found_error');
    if (req.method !== 'POST') throw new ApiError(405, `${url.pathname} takes POST`);
    const body = await readJson(req, budget, opts.maxBodyBytes ?? 16 * 1024 * 1024);
    const g =
      route === '/v1/completions'
        ? parseCompletionRequest(body, tok, opts.limits)
        : parseChatRequest(body, tok, opts.limits);
    if (!names.includes(g.model)) {
      const hint =
        g.model === opts.modelName + TOOLS_SUFFIX ? ' (tool mode needs serve --recipe with an agent loop)' : '';
      throw new ApiError(
        404,
        `the model '${g.model}' does not exist${hint}; served: ${names.join(', ')}`,
        'model',
        'not_found_error',
      );
    }
    const toolMode = g.model !== opts.modelName;
    checkAlternatives(g, toolMode);
    // A client that hangs up cancels its share of the work.
    const ctl = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ctl.abort();
    });
    const id = `${g.api === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    if (!g.stream)
      return sendJson(res, 200, responseBody(g, id, created, await generate(g, toolMode, ctl.signal), tok));
    // The status line goes with the first chunk: a request refused before any token still gets a plain error.
    const sse = new SseWriter(res);
    const answer = new StreamAnswer(g, id, created, tok, (chunk) => sse.send(chunk));
    try {
      answer.finish(await generate(g, toolMode, ctl.signal, answer));
    } catch (e) {
      if (!sse.started) throw e;
      const aborted = (e as Error).name === 'AbortError';
      // A client that hung up is not a failure; anything else is logged whole and told in one line.
      if (!aborted) opts.log?.error(`serve: a stream failed after its first chunk: ${(e as Error).stack ?? String(e)}`);
      const err =
        e instanceof ApiError
          ? e
          : aborted
            ? new ApiError(499, 'cancelled', null, 'cancelled')
            : new ApiError(500, `internal error: ${clientMessage(e)}`, null, 'server_error');
      sse.send({ error: { message: err.message, type: err.type, param: err.param, code: err.status } });
    }
    sse.done();
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof ApiError) return sendError(res, e);
      if (e instanceof HttpRefusal) {
        for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
        return sendError(
          res,
          new ApiError(e.status, e.message, null, REFUSAL_TYPES[e.status] ?? 'invalid_request_error'),
        );
      }
      if ((e as Error).name === 'AbortError') return sendError(res, new ApiError(499, 'cancelled', null, 'cancelled'));
      opts.log?.error(`serve: ${req.method} ${req.url}: ${(e as Error).stack ?? String(e)}`);
      sendError(res, new ApiError(500, `internal error: ${clientMessage(e)}`, null, 'server_error'));
    });
  });
  return server;
}

export async function listen(server: http.Server, host: string, port: number): Promise<RunningServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    url: `http://${h}:${a.port}/v1`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
