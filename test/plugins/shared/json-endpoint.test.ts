import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import { backoffMs, pause } from '../../../plugins/shared/backoff.js';
import {
  errorDetail,
  HttpAttemptError,
  HttpCancelledError,
  JsonEndpoint,
} from '../../../plugins/shared/json-endpoint.js';

const OPTS = { connections: 2, keepAliveMs: 1000, connectTimeoutMs: 1000 };

describe('shared: backoff', () => {
  it('backs off with full jitter, doubling up to the cap', () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffMs(a, 100, 500, () => 0.999999))).to.deep.equal([99, 199, 399, 499, 499]);
    expect([0, 3].map((a) => backoffMs(a, 100, 1000, () => 0.5))).to.deep.equal([50, 400]);
    expect(backoffMs(3, 100, 500, () => 0)).to.equal(0);
  });

  it('pauses, or says the signal aborted', async () => {
    expect(await pause(1)).to.equal(true);
    const ac = new AbortController();
    const waiting = pause(10_000, ac.signal);
    ac.abort();
    expect(await waiting).to.equal(false);
    expect(await pause(10_000, ac.signal)).to.equal(false);
  });
});

describe('shared: errorDetail', () => {
  it("reads OpenAI's and FastAPI's error bodies, else the text", () => {
    expect(errorDetail('{"error":{"message":"bad model"}}')).to.equal('bad model');
    expect(errorDetail('{"error":"quota"}')).to.equal('quota');
    expect(errorDetail('{"detail":"not found"}')).to.equal('not found');
    expect(errorDetail('{"detail":[{"loc":["body","finish",0],"msg":"not a boolean"},{"msg":"x"}]}')).to.equal(
      'body.finish.0: not a boolean; ?: x',
    );
    expect(errorDetail('{"detail":{"code":3}}')).to.equal('{"code":3}');
    expect(errorDetail('upstream busy')).to.equal('upstream busy');
    expect(errorDetail('')).to.equal('(empty body)');
    expect(errorDetail('x'.repeat(400))).to.have.length(300);
  });
});

describe('shared: JsonEndpoint', () => {
  let server: http.Server;
  let base: string;
  const bodies: unknown[] = [];
  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        bodies.push({
          method: req.method,
          url: req.url,
          type: req.headers['content-type'],
          auth: req.headers.authorization,
          body,
        });
        const send = (status: number, text: string) =>
          res.writeHead(status, { 'content-type': 'application/json' }).end(text);
        switch (req.url) {
          case '/v1/ok':
            return send(200, '{"ok":true}');
          case '/v1/500':
            return send(500, '{"error":{"message":"boom"}}');
          case '/v1/429':
            return send(429, 'slow down');
          case '/v1/422':
            return send(422, '{"detail":[{"loc":["body"],"msg":"bad"}]}');
          case '/v1/malformed':
            return send(200, '{"ok":');
          case '/v1/hang':
            return undefined;
          case '/v1/drop':
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
            res.write('{"partial"');
            setTimeout(() => req.socket.destroy(), 20);
            return undefined;
          default:
            return send(404, '');
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const failure = async (
    ep: JsonEndpoint,
    path: string,
    o: Partial<Parameters<JsonEndpoint['request']>[2]> = {},
  ): Promise<HttpAttemptError | HttpCancelledError> => {
    try {
      await ep.request(path, { q: 1 }, { timeoutMs: 300, ...o });
    } catch (e) {
      return e as HttpAttemptError;
    }
    throw new Error(`${path} did not fail`);
  };

  it('POSTs JSON (GETs without a body) under the URL path, and parses the answer', async () => {
    const ep = new JsonEndpoint(`${base}/v1/`, OPTS);
    try {
      expect(ep.basePath).to.equal('/v1');
      expect(
        await ep.request(ep.routePath('/ok'), { a: [1] }, { headers: { authorization: 'Bearer k' }, timeoutMs: 1000 }),
      ).to.deep.equal({ ok: true });
      expect(bodies.at(-1)).to.deep.equal({
        method: 'POST',
        url: '/v1/ok',
        type: 'application/json',
        auth: 'Bearer k',
        body: '{"a":[1]}',
      });
      expect(await ep.request('/v1/ok', undefined, { timeoutMs: 1000 })).to.deep.equal({ ok: true });
      expect(bodies.at(-1)).to.deep.include({ method: 'GET', type: undefined, body: '' });
      expect(new JsonEndpoint(`${base}/run_code`, OPTS).routePath('/run_code')).to.equal('/run_code');
      expect(new JsonEndpoint(base, OPTS).routePath('/run_code')).to.equal('/run_code');
    } finally {
      await ep.close();
    }
  });

  it('says why an attempt failed, and whether another may succeed', async () => {
    const ep = new JsonEndpoint(base, OPTS);
    try {
      const cases: [string, string, boolean, RegExp][] = [
        ['/v1/500', 'status', true, /^POST http:\/\/127\.0\.0\.1:\d+\/v1\/500: HTTP 500: boom$/],
        ['/v1/429', 'status', true, /HTTP 429: slow down$/],
        ['/v1/422', 'status', false, /HTTP 422: body: bad$/],
        ['/v1/nothing', 'status', false, /HTTP 404: \(empty body\)$/],
        ['/v1/malformed', 'malformed', true, /malformed JSON in the answer \(6 bytes: "\{\\"ok\\":"\)$/],
        ['/v1/hang', 'timeout', true, /no answer within 300 ms$/],
        ['/v1/drop', 'dropped', true, /connection dropped while reading the answer/],
      ];
      for (const [path, kind, retryable, message] of cases) {
        const e = (await failure(ep, path)) as HttpAttemptError;
        expect(e, path).to.be.instanceOf(HttpAttemptError);
        expect([e.kind, e.retryable], path).to.deep.equal([kind, retryable]);
        expect(e.message, path).to.match(message);
      }
      expect((await failure(ep, '/v1/500', { label: 'srv' })).message).to.equal('srv: HTTP 500: boom');
    } finally {
      await ep.destroy();
    }
  });

  it('tells a refused connection from a cancelled request', async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const dead = new JsonEndpoint(`http://127.0.0.1:${port}`, OPTS);
    const refused = (await failure(dead, '/x')) as HttpAttemptError;
    expect([refused.kind, refused.retryable]).to.deep.equal(['refused', true]);
    expect(refused.message).to.match(/connection failed \(ECONNREFUSED\)$/);
    await dead.destroy();

    const ep = new JsonEndpoint(base, OPTS);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    const cancelled = await failure(ep, '/v1/hang', { signal: ac.signal, timeoutMs: 5000 });
    expect(cancelled).to.be.instanceOf(HttpCancelledError);
    expect(cancelled.message).to.match(/\/v1\/hang: cancelled$/);
    await ep.destroy();
  });
});
