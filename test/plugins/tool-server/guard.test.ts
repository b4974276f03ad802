import assert from 'node:assert/strict';
import http from 'node:http';
import { startToolServer, type ToolServerHandle, type ToolServerOptions } from '../../../plugins/tool-server/server.js';
import { RemoteTools } from '../../../plugins/tool-server/remote.js';
import { raw, type RawAnswer } from '../serve/raw-http.js';
import { CalcTool } from './calc-tool.js';

const OPTS: ToolServerOptions = {
  host: '127.0.0.1',
  port: 0,
  maxConcurrency: 64,
  requestTimeoutMs: 60_000,
  doneIfInvalid: false,
  idleTrajectoryMs: 0,
  maxBodyBytes: 1 << 26,
  observationFormat: 'raw',
};
const JSON_TYPE = { 'content-type': 'application/json' };
const one = JSON.stringify({ trajectory_ids: ['t'], actions: ['<calc>1 + 1</calc>'] });
const post = (url: string, headers: Record<string, string>, body = one) =>
  raw(url, { path: '/get_observation', headers, body });

describe('tool-server: browser, auth and load guards', () => {
  let server: ToolServerHandle | undefined;
  let calc: CalcTool;
  const start = async (o: Partial<ToolServerOptions> = {}) => {
    calc = new CalcTool();
    server = await startToolServer([[calc]], { ...OPTS, ...o });
    return server.url;
  };
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('runs only bodies sent as application/json (415 for text/plain and forms)', async () => {
    const url = await start();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await post(url, { 'content-type': type });
      assert.equal(r.status, 415, type);
      assert.match(r.json.detail, /Content-Type: application\/json/);
    }
    assert.equal((await post(url, {})).status, 415);
    assert.deepEqual(calc.calls, []);
    assert.equal((await post(url, { 'content-type': 'application/json; charset=utf-8' })).status, 200);
  });

  it('answers only loopback Host names on a loopback address, and no cross-origin page', async () => {
    const url = await start();
    const port = new URL(url).port;
    for (const host of ['attacker.example', `attacker.example:${port}`]) {
      const r = await post(url, { ...JSON_TYPE, host });
      assert.equal(r.status, 403, host);
      assert.match(r.json.detail, /is refused: this server listens on loopback/);
      assert.equal((await raw(url, { method: 'GET', path: '/metrics', headers: { host } })).status, 403);
    }
    for (const host of ['127.0.0.1', `localhost:${port}`, '[::1]', `[::1]:${port}`])
      assert.equal((await post(url, { ...JSON_TYPE, host })).status, 200, host);
    for (const origin of ['http://attacker.example', 'null', `http://localhost:${Number(port) + 1}`]) {
      const r = await post(url, { ...JSON_TYPE, origin });
      assert.equal(r.status, 403, origin);
      assert.match(r.json.detail, /cross-origin request refused/);
    }
    assert.equal((await post(url, { ...JSON_TYPE, origin: `http://127.0.0.1:${port}` })).status, 200);
    assert.equal(calc.calls.length, 5);
  });

  it('wants the bearer token when given an API key (but not for /health), and remote-tools sends it', async () => {
    const url = await start({ apiKey: 'sk-tools' });
    assert.equal((await post(url, JSON_TYPE)).status, 401);
    const wrong = await post(url, { ...JSON_TYPE, authorization: 'Bearer sk-nope' });
    assert.equal(wrong.status, 401);
    assert.match(wrong.json.detail, /missing or wrong API key/);
    assert.equal((await raw(url, { method: 'GET', path: '/metrics' })).status, 401);
    assert.equal((await raw(url, { method: 'GET', path: '/health' })).status, 200);
    assert.equal((await post(url, { ...JSON_TYPE, authorization: 'Bearer sk-tools' })).status, 200);
    const options = {
      name: 'calc',
      url,
      fences: ['python'],
      pattern: '<calc>([\\s\\S]*?)</calc>',
      actionTemplate: '<calc>{action}</calc>',
      timeoutMs: 2000,
      connectTimeoutMs: 1000,
      retries: 0,
      backoffBaseMs: 1,
      backoffMaxMs: 1,
      batchWindowMs: 0,
      maxBatchSize: 8,
      connections: 1,
      keepAliveMs: 1000,
      apiKeyEnv: 'A0_TOOLS_KEY',
    };
    const remote = new RemoteTools(options, undefined, Math.random, { A0_TOOLS_KEY: 'sk-tools' });
    try {
      assert.equal((await remote.conductAction('r', '6 * 7')).observation, '42');
    } finally {
      await remote.dispose();
    }
    assert.throws(
      () => new RemoteTools({ ...options, apiKeyEnv: 'A0_UNSET' }, undefined, Math.random, {}),
      /apiKeyEnv names 'A0_UNSET', which is not set/,
    );
  });

  it('listens off loopback only with a token: there any Host passes, so a rebinding page would get in', async () => {
    await assert.rejects(
      startToolServer([[new CalcTool()]], { ...OPTS, host: '0.0.0.0' }),
      /tool-server: --host 0\.0\.0\.0 is not a loopback address: .*set --api-key-env VAR/,
    );
    const port = new URL(await start({ host: '0.0.0.0', apiKey: 'sk-tools' })).port;
    // A page on attacker.example whose name now resolves to this machine: same origin, so no preflight.
    const page = await post(`http://127.0.0.1:${port}`, {
      ...JSON_TYPE,
      host: `attacker.example:${port}`,
      origin: `http://attacker.example:${port}`,
    });
    assert.equal(page.status, 401);
    assert.deepEqual(calc.calls, []);
  });

  it('caps actions per request with a clear 413, configurably', async () => {
    const url = await start({ maxItemsPerRequest: 100 });
    const body = (n: number) =>
      JSON.stringify({
        trajectory_ids: Array.from({ length: n }, (_, i) => `t${i}`),
        actions: Array.from({ length: n }, () => '<calc>1 + 1</calc>'),
      });
    const r = await post(url, JSON_TYPE, body(101));
    assert.equal(r.status, 413);
    assert.equal(
      r.json.detail,
      'trajectory_ids has 101 entries; this server takes at most 100 per request (tool-server --max-items): split the batch',
    );
    assert.deepEqual(calc.calls, []);
    assert.equal((await post(url, JSON_TYPE, body(100))).status, 200);
  });

  it('answers a large request in time linear in its size: one deadline listener per request', async function () {
    this.timeout(60_000);
    const n = 50_000;
    const url = await start({ maxItemsPerRequest: n });
    const body = JSON.stringify({
      trajectory_ids: Array.from({ length: n }, (_, i) => `t${i}`),
      actions: Array.from({ length: n }, () => '<calc>1 + 1</calc>'),
    });
    // Each abort listener added to an AbortSignal scans the signal's list: one per item made the request quadratic.
    const add = EventTarget.prototype.addEventListener;
    let abortListeners = 0;
    EventTarget.prototype.addEventListener = function (this: EventTarget, type: string, ...rest: unknown[]) {
      if (this instanceof AbortSignal && type === 'abort') abortListeners++;
      return (add as (...a: unknown[]) => void).call(this, type, ...rest);
    } as typeof add;
    const t0 = performance.now();
    let r: RawAnswer;
    try {
      r = await post(url, JSON_TYPE, body);
    } finally {
      EventTarget.prototype.addEventListener = add;
    }
    const ms = performance.now() - t0;
    assert.equal(r.status, 200);
    assert.equal(r.json.observations.length, n);
    assert.ok(r.json.observations.every((o: string) => o === '2'));
    assert.ok(abortListeners < 100, `${abortListeners} abort listeners for one request of ${n} actions`);
    // about 1 s here once linear; the quadratic version took about 13 s
    assert.ok(ms < 8000, `${n} actions took ${Math.round(ms)} ms`);
  });

  it('caps the bytes of bodies read at once with a clear 503', async () => {
    const url = await start({ maxBodyBytes: 1000, maxTotalBodyBytes: 1500 });
    const body = one + ' '.repeat(800 - one.length);
    const u = new URL(url);
    const slow = http.request({
      host: u.hostname,
      port: u.port,
      method: 'POST',
      path: '/get_observation',
      headers: { ...JSON_TYPE, 'content-length': '800' },
    });
    const slowAnswer = new Promise<number>((resolve, reject) => {
      slow.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      slow.on('error', reject);
    });
    slow.write(body.slice(0, 10));
    let busy: RawAnswer | undefined;
    for (let i = 0; i < 100 && busy?.status !== 503; i++) {
      busy = await post(url, JSON_TYPE, body);
      if (busy.status !== 503) await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(busy!.status, 503);
    assert.equal(busy!.headers['retry-after'], '1');
    assert.equal(
      busy!.json.detail,
      'the server is busy reading other request bodies (800 bytes; at most 1500 at once, tool-server --max-total-body-mb): retry shortly',
    );
    slow.end(body.slice(10));
    assert.equal(await slowAnswer, 200);
    assert.equal((await post(url, JSON_TYPE, body)).status, 200);
  });
});
