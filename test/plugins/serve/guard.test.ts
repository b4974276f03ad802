// test/setup.ts waits for a tfjs backend; importing the tfjs bundle registers the cpu one.
import '@tensorflow/tfjs';
import http from 'node:http';
import { expect } from 'chai';
import { BatchingEngine, createServer, listen, type RunningServer } from '../../../plugins/serve/public.js';
import { ScriptPolicy, charTokenizer } from './doubles.js';
import { raw, type RawAnswer } from './raw-http.js';

const JSON_TYPE = { 'content-type': 'application/json' };
const completion = JSON.stringify({ model: 'script', prompt: 'hi', max_tokens: 2, temperature: 0 });

describe('agent0 serve: browser and load guards', () => {
  let policy: ScriptPolicy;
  let srv: RunningServer;
  let port: string;
  const start = async (
    o: { maxRows?: number; maxSamples?: number; maxTotalBodyBytes?: number; maxBodyBytes?: number } = {},
  ) => {
    policy = new ScriptPolicy();
    const engine = new BatchingEngine(policy, { windowMs: 0, maxRows: o.maxRows ?? 64 });
    const limits = { maxTokens: 64, maxN: 64, ...(o.maxSamples ? { maxSamples: o.maxSamples } : {}) };
    srv = await listen(
      createServer({
        engine,
        modelName: 'script',
        limits,
        maxTotalBodyBytes: o.maxTotalBodyBytes,
        maxBodyBytes: o.maxBodyBytes,
      }),
      '127.0.0.1',
      0,
    );
    port = new URL(srv.url).port;
  };
  afterEach(() => srv.close());

  it('runs only bodies sent as application/json (415 for text/plain and forms)', async () => {
    await start();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await raw(srv.url, { path: '/v1/completions', headers: { 'content-type': type }, body: completion });
      expect(r.status, type).to.equal(415);
      expect(r.json.error.message).to.contain('Content-Type: application/json');
    }
    expect((await raw(srv.url, { path: '/v1/completions', body: completion })).status).to.equal(415);
    expect(policy.calls).to.have.length(0);
    const ok = await raw(srv.url, {
      path: '/v1/completions',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: completion,
    });
    expect(ok.status).to.equal(200);
  });

  it('answers only loopback Host names on a loopback address (DNS rebinding)', async () => {
    await start();
    for (const host of ['attacker.example', `attacker.example:${port}`, '10.0.0.1']) {
      const r = await raw(srv.url, { path: '/v1/completions', headers: { ...JSON_TYPE, host }, body: completion });
      expect(r.status, host).to.equal(403);
      expect(r.json.error.message).to.contain(`Host '${host}' is refused`);
      expect((await raw(srv.url, { method: 'GET', path: '/v1/models', headers: { host } })).status, host).to.equal(403);
    }
    for (const host of ['127.0.0.1', `127.0.0.1:${port}`, 'localhost', `LOCALHOST:${port}`, '[::1]', `[::1]:${port}`]) {
      expect(
        (await raw(srv.url, { path: '/v1/completions', headers: { ...JSON_TYPE, host }, body: completion })).status,
        host,
      ).to.equal(200);
    }
  });

  it('refuses cross-origin browser requests, but not its own origin', async () => {
    await start();
    for (const origin of [
      'http://attacker.example',
      'null',
      `http://localhost:${Number(port) + 1}`,
      `https://127.0.0.1:${port}`,
    ]) {
      const r = await raw(srv.url, { path: '/v1/completions', headers: { ...JSON_TYPE, origin }, body: completion });
      expect(r.status, origin).to.equal(403);
      expect(r.json.error.message).to.contain('cross-origin request refused');
    }
    const own = await raw(srv.url, {
      path: '/v1/completions',
      headers: { ...JSON_TYPE, host: `localhost:${port}`, origin: `http://localhost:${port}` },
      body: completion,
    });
    expect(own.status).to.equal(200);
  });

  it('caps prompts x n per request with a clear 400', async () => {
    await start({ maxSamples: 50 });
    const big = JSON.stringify({ model: 'script', prompt: Array.from({ length: 20 }, () => 'p'), n: 8, max_tokens: 1 });
    const r = await raw(srv.url, { path: '/v1/completions', headers: JSON_TYPE, body: big });
    expect(r.status).to.equal(400);
    expect(r.json.error.message).to.equal(
      'this request asks for 20 prompt(s) x n=8 = 160 samples; the server takes at most 50 per request (serve --max-request-samples): split it',
    );
    expect(policy.calls).to.have.length(0);
    const chat = await raw(srv.url, {
      path: '/v1/chat/completions',
      headers: JSON_TYPE,
      body: JSON.stringify({ model: 'script', messages: [{ role: 'user', content: 'x' }], n: 64 }),
    });
    expect(chat.status).to.equal(400);
    const fits = JSON.stringify({
      model: 'script',
      prompt: Array.from({ length: 10 }, () => 'p'),
      n: 5,
      max_tokens: 1,
    });
    expect((await raw(srv.url, { path: '/v1/completions', headers: JSON_TYPE, body: fits })).status).to.equal(200);
  });

  it('serves a small request before a big one that arrived first (round robin)', async () => {
    await start({ maxRows: 4 });
    policy.delayMs = 15;
    const done: string[] = [];
    const ask = (name: string, prompts: string[], n: number) =>
      raw(srv.url, {
        path: '/v1/completions',
        headers: JSON_TYPE,
        body: JSON.stringify({ model: 'script', prompt: prompts, n, max_tokens: 2, temperature: 0 }),
      }).then((r) => {
        done.push(name);
        return r;
      });
    const big = ask(
      'big',
      Array.from({ length: 20 }, (_, i) => `b${i}`),
      4,
    );
    while (policy.calls.length === 0) await new Promise((r) => setTimeout(r, 1)); // the big request's first call is running
    const small = ask('small', ['s'], 1);
    const [b, s] = await Promise.all([big, small]);
    expect(done).to.deep.equal(['small', 'big']);
    expect([b.status, s.status]).to.deep.equal([200, 200]);
    expect(b.json.choices.map((c: { index: number }) => c.index)).to.deep.equal([...Array(80).keys()]);
    expect(Math.max(...policy.calls.map((c) => c.rows))).to.equal(4);
    // Every row of the big request was generated from its own prompt, in order.
    const bigRows = policy.calls.flatMap((c) => c.prompts.map((p) => charTokenizer.decode(p))).filter((p) => p !== 's');
    expect(bigRows).to.deep.equal(Array.from({ length: 20 }, (_, i) => Array(4).fill(`b${i}`)).flat());
  });

  it('caps the bytes of bodies read at once with a clear 503', async () => {
    await start({ maxBodyBytes: 1000, maxTotalBodyBytes: 1500 });
    const padded = (body: string) => body + ' '.repeat(800 - body.length);
    // A slow client: 800 bytes declared, a few sent, the rest held back.
    const u = new URL(srv.url);
    const slow = http.request({
      host: u.hostname,
      port: u.port,
      method: 'POST',
      path: '/v1/completions',
      headers: { ...JSON_TYPE, 'content-length': '800' },
    });
    const slowAnswer = new Promise<number>((resolve, reject) => {
      slow.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      slow.on('error', reject);
    });
    const body = padded(completion);
    slow.write(body.slice(0, 10));
    let busy: RawAnswer | undefined;
    for (let i = 0; i < 100 && busy?.status !== 503; i++) {
      busy = await raw(srv.url, { path: '/v1/completions', headers: JSON_TYPE, body });
      if (busy.status !== 503) await new Promise((r) => setTimeout(r, 10));
    }
    expect(busy!.status).to.equal(503);
    expect(busy!.headers['retry-after']).to.equal('1');
    expect(busy!.json.error.message).to.match(
      /the server is busy reading other request bodies \(800 bytes; at most 1500 at once, serve --max-total-body-mb\): retry shortly/,
    );
    slow.end(body.slice(10));
    expect(await slowAnswer).to.equal(200);
    // The slow body's bytes were given back once it was read.
    expect((await raw(srv.url, { path: '/v1/completions', headers: JSON_TYPE, body })).status).to.equal(200);
    const huge = await raw(srv.url, {
      path: '/v1/completions',
      headers: JSON_TYPE,
      body: padded(completion) + ' '.repeat(500),
    });
    expect(huge.status).to.equal(413);
  });
});
