import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRegistry, DefaultCliEnv, Logger, type Plugin } from '../../../core/index.js';
import { testTool } from '../../../core/testkit/index.js';
import sandboxFusionPlugin from '../../../plugins/sandbox-fusion/index.js';
import toolServerPlugin from '../../../plugins/tool-server/index.js';
import { serveTools } from '../../../plugins/tool-server/command.js';
import { RemoteTools, type RemoteToolsOptions } from '../../../plugins/tool-server/remote.js';
import { startToolServer, type ToolServerHandle } from '../../../plugins/tool-server/server.js';
import { startFakeSandbox } from '../sandbox-fusion/fake-server.js';
import { built, calcPlugin, CalcTool } from './calc-tool.js';

const SERVER = {
  host: '127.0.0.1',
  port: 0,
  maxConcurrency: 16,
  requestTimeoutMs: 5000,
  doneIfInvalid: false,
  idleTrajectoryMs: 0,
  maxBodyBytes: 1 << 20,
};
const REMOTE: Omit<RemoteToolsOptions, 'url'> = {
  name: 'calc',
  fences: ['python'],
  pattern: '<calc>([\\s\\S]*?)</calc>',
  actionTemplate: '<calc>{action}</calc>',
  timeoutMs: 2000,
  connectTimeoutMs: 1000,
  retries: 2,
  backoffBaseMs: 5,
  backoffMaxMs: 20,
  batchWindowMs: 5,
  maxBatchSize: 64,
  connections: 4,
  keepAliveMs: 5000,
};

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('remote-tools against agent0 tool-server', () => {
  let server: ToolServerHandle;
  let calc: CalcTool;
  const remotes: RemoteTools[] = [];
  const remote = (o: Partial<RemoteToolsOptions> = {}) => {
    const t = new RemoteTools({ ...REMOTE, url: server.url, ...o }, undefined, () => 0.5);
    remotes.push(t);
    return t;
  };
  beforeEach(async () => {
    calc = new CalcTool();
    server = await startToolServer([[calc]], SERVER);
  });
  afterEach(async () => {
    await Promise.all(remotes.splice(0).map((r) => r.dispose()));
    await server.close();
  });

  it("parses locally, runs remotely with per-trajectory state, and finish frees the server's state", async () => {
    const t = remote();
    const p = t.parseAction('first <calc>1 + 1</calc> then <calc>6 * 7</calc>');
    assert.deepEqual(p, { valid: true, action: '6 * 7' });
    const r = await t.conductAction('traj', p.action as string);
    assert.equal(r.observation, '42');
    assert.equal(r.valid, true);
    assert.equal(r.info?.tool, 'calc');
    assert.equal((await t.conductAction('traj', 'ans + 1')).observation, '43');
    assert.equal(calc.memory.get('traj'), 43);
    await t.finish('traj');
    assert.equal(calc.memory.has('traj'), false);
    assert.deepEqual(calc.finished, ['traj']);
  });

  it('batches concurrent calls into one request', async () => {
    const t = remote({ batchWindowMs: 20 });
    const rs = await Promise.all(Array.from({ length: 12 }, (_, i) => t.conductAction(`t${i}`, `${i} * 2`)));
    assert.deepEqual(
      rs.map((r) => r.observation),
      Array.from({ length: 12 }, (_, i) => String(i * 2)),
    );
    assert.equal(t.requestsSent, 1);
    const m = (await (await fetch(`${server.url}/metrics`)).json()) as any;
    assert.equal(m.requests, 1);
    assert.equal(m.actions, 12);
  });

  it('splits batches at maxBatchSize and sends one request per call without a window', async () => {
    const a = remote({ batchWindowMs: 50, maxBatchSize: 5 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => a.conductAction(`t${i}`, '1 + 1')));
    assert.equal(a.requestsSent, 3);
    const b = remote({ batchWindowMs: 0 });
    await Promise.all(Array.from({ length: 4 }, (_, i) => b.conductAction(`u${i}`, '1 + 1')));
    assert.equal(b.requestsSent, 4);
  });

  it('reports a server that is down as a clear invalid result, and never throws', async () => {
    const t = remote({ url: `http://127.0.0.1:${await freePort()}`, retries: 1 });
    const r = await t.conductAction('t', '1 + 1');
    assert.equal(r.valid, false);
    assert.match(
      r.observation,
      /^remote tool error: 2 attempt\(s\) failed: POST http:\/\/127\.0\.0\.1:\d+: connection failed \(ECONNREFUSED\)/,
    );
    await t.finish('t');
  });

  it('retries a 503 and a malformed answer, but not a 400', async () => {
    const plan = ['503', 'garbage', 'ok', '400'];
    let hits = 0;
    const flaky = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        hits++;
        const what = plan.shift() ?? 'ok';
        if (what === '503') return res.writeHead(503).end('busy');
        if (what === 'garbage') return res.writeHead(200).end('{"observations": [');
        if (what === '400')
          return res.writeHead(400, { 'content-type': 'application/json' }).end('{"detail":"bad request"}');
        const n = (JSON.parse(body) as { actions: string[] }).actions.length;
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            observations: Array(n).fill({ obs: 'fine' }),
            dones: Array(n).fill(false),
            valids: Array(n).fill(true),
          }),
        );
      });
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', () => r()));
    try {
      const t = remote({ url: `http://127.0.0.1:${(flaky.address() as net.AddressInfo).port}/get_observation` });
      const ok = await t.conductAction('t', 'x');
      assert.equal(ok.observation, 'fine', "VeRL-Tool's {obs: ...} observations are unwrapped");
      assert.equal(hits, 3);
      const bad = await t.conductAction('t', 'x');
      assert.equal(bad.valid, false);
      assert.match(bad.observation, /HTTP 400: bad request/);
      assert.equal(hits, 4, 'a 400 is not retried');
    } finally {
      flaky.closeAllConnections();
      await new Promise<void>((r) => flaky.close(() => r()));
    }
  });

  it('stops waiting when the caller cancels', async () => {
    const t = remote();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const r = await t.conductAction('t', 'sleep 1000', { signal: ac.signal });
    assert.equal(r.valid, false);
    assert.match(r.observation, /cancelled/);
  });
});

describe('remote-tools: conformance', () => {
  let server: ToolServerHandle;
  before(async () => {
    server = await startToolServer([[new CalcTool()]], SERVER);
  });
  after(() => server.close());
  testTool('remote-tools', () => new RemoteTools({ ...REMOTE, url: server.url }), {
    valid: [{ text: 'so <calc>2 + 3</calc>', action: '2 + 3' }],
    invalid: ['no call', '<calc>  </calc>', '<calc>1 + 2'],
    run: [{ action: '2 + 3', check: (r) => assert.equal(r.observation, '5') }],
  });
});

describe('agent0 tool-server (command)', () => {
  const plugins: Plugin[] = [sandboxFusionPlugin, toolServerPlugin, calcPlugin];
  const makeEnv = async (cwd: string) => {
    let out = '';
    let err = '';
    const env = new DefaultCliEnv(await createRegistry(plugins), {
      builtins: plugins,
      cwd,
      log: new Logger('test', 'error'),
      stdout: (s) => {
        out += s;
      },
      stderr: (s) => {
        err += s;
      },
    });
    return { env, out: () => out, err: () => err };
  };
  /** Starts the command, waits for its JSON line, runs `fn` against the URL, then stops it. */
  const serve = async (args: string[], cwd: string, fn: (url: string) => Promise<void>) => {
    const { env, out, err } = await makeEnv(cwd);
    const ac = new AbortController();
    const done = serveTools(args, env, ac.signal);
    let line = '';
    for (let i = 0; i < 200 && !line; i++) {
      await Promise.race([new Promise((r) => setTimeout(r, 25)), done]);
      line = out().split('\n')[0];
      if (!line && (await Promise.race([done.then(() => true), Promise.resolve(false)])))
        throw new Error(`the server exited: ${err()}`);
    }
    const info = JSON.parse(line) as {
      url: string;
      endpoint: string;
      tools: string[];
      workers: number;
      observationFormats: Record<string, string>;
    };
    try {
      await fn(info.url);
    } finally {
      ac.abort();
      assert.equal(await done, 0);
    }
    return info;
  };

  it("serves a recipe's tool instances, each worker with its own instance, until stopped", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agent0-ts-'));
    await fs.writeFile(
      path.join(dir, 'r.yaml'),
      'name: ts\ncomponents:\n  calc: { use: tool/test-calc, options: { name: adder } }\npipeline: {}\n',
    );
    built.length = 0;
    const info = await serve(
      ['--recipe', 'r.yaml', '--port', '0', '--workers', '2', '--observation-format', 'adder=python_code:output'],
      dir,
      async (url) => {
        const t = new RemoteTools({ ...REMOTE, url, observationFormat: 'python_code:output' });
        try {
          const rs = await Promise.all(['a', 'b'].map((id) => t.conductAction(id, '20 + 1')));
          assert.deepEqual(
            rs.map((r) => r.observation),
            ['21', '21'],
            'the envelope is taken off',
          );
          assert.equal((await t.conductAction('a', 'ans * 2')).observation, '42');
          const raw = await fetch(`${url}/get_observation`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ trajectory_ids: ['c'], actions: ['<calc>1 + 2</calc>'] }),
          });
          assert.deepEqual(((await raw.json()) as any).observations, ['\n<output>\n3\n</output>\n']);
        } finally {
          await t.dispose();
        }
      },
    );
    assert.deepEqual(info.tools, ['adder']);
    assert.equal(info.workers, 2);
    assert.deepEqual(info.observationFormats, { adder: 'python_code:output' });
    assert.equal(built.length, 2, 'one instance per worker');
    // a's two calls and c's on one worker (c joined the first of two equally loaded ones), b's on the other
    assert.deepEqual(built.map((b) => b.calls.length).sort(), [1, 3]);
  });

  it('wants the bearer token named by --api-key-env and caps actions with --max-items', async () => {
    process.env.A0_TOOLS_TEST_KEY = 'sk-tools';
    try {
      await serve(
        ['--tool', 'test-calc', '--port', '0', '--api-key-env', 'A0_TOOLS_TEST_KEY', '--max-items', '2'],
        process.cwd(),
        async (url) => {
          const body = (n: number) =>
            JSON.stringify({
              trajectory_ids: Array.from({ length: n }, (_, i) => `t${i}`),
              actions: Array.from({ length: n }, () => '<calc>1 + 1</calc>'),
            });
          const ask = (n: number, key?: string) =>
            fetch(`${url}/get_observation`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
              body: body(n),
            });
          assert.equal((await ask(1)).status, 401);
          assert.equal((await ask(2, 'sk-tools')).status, 200);
          assert.equal((await ask(3, 'sk-tools')).status, 413);
        },
      );
    } finally {
      delete process.env.A0_TOOLS_TEST_KEY;
    }
  });

  it('serves a tool component without a recipe: sandbox-fusion, round trip through remote-tools', async () => {
    const fake = await startFakeSandbox();
    try {
      await serve(
        ['--tool', 'sandbox-fusion', '--options', JSON.stringify({ urls: [fake.url] }), '--port', '0'],
        process.cwd(),
        async (url) => {
          const t = new RemoteTools({
            ...REMOTE,
            name: 'python',
            pattern: '',
            fences: ['python'],
            actionTemplate: '```python\n{action}\n```',
            url,
          });
          try {
            const p = t.parseAction('I will use python.\n```python\nprint(413)\n```\n```output');
            const r = await t.conductAction('t', p.action as string);
            assert.equal(r.observation, '413');
            assert.equal(r.info?.status, 'ok');
          } finally {
            await t.dispose();
          }
        },
      );
      assert.equal(fake.received[0].code, 'print(413)');
    } finally {
      await fake.close();
    }
  });

  it('refuses bad arguments with a clear message and exit code 2', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agent0-ts-'));
    await fs.writeFile(
      path.join(dir, 'r.yaml'),
      'name: ts\ncomponents:\n  calc: { use: tool/test-calc }\npipeline: {}\n',
    );
    const cases: [string[], RegExp][] = [
      [[], /name the tools to serve/],
      [
        ['--recipe', 'r.yaml', '--tool', 'nope'],
        /--tool nope: the recipe has no instance 'nope' \(its instances: calc\)/,
      ],
      [['--tool', 'no-such-tool'], /tool\/no-such-tool/],
      [['--tool', 'test-calc', '--port', 'abc'], /--port: expected an integer >= 0, found 'abc'/],
      [['--tool', 'test-calc', '--options', '{"name": 3}'], /name/],
      [['--bogus'], /Unknown option '--bogus'/],
      [
        ['--tool', 'test-calc', '--api-key-env', 'A0_TOOLS_UNSET'],
        /--api-key-env names 'A0_TOOLS_UNSET', which is not set in the environment/,
      ],
      [['--tool', 'test-calc', '--max-items', '0'], /--max-items: expected an integer >= 1, found '0'/],
      [
        ['--tool', 'test-calc', '--host', '0.0.0.0'],
        /--host 0\.0\.0\.0 is not a loopback address: .*set --api-key-env VAR/,
      ],
      [
        ['--tool', 'test-calc', '--observation-format', 'xml'],
        /--observation-format: unknown observation format 'xml' \(expected one of: raw, python_code/,
      ],
      [
        ['--tool', 'test-calc', '--observation-format', 'python=raw'],
        /--observation-format python=raw: no served tool is named 'python' \(tools: calc\)/,
      ],
    ];
    for (const [args, re] of cases) {
      const { env, err } = await makeEnv(dir);
      assert.equal(await serveTools(args, env, new AbortController().signal), 2, args.join(' '));
      assert.match(err(), re);
    }
  });

  it("serves the recipe's python tool when one is registered and python3 is installed", async function () {
    let builtins: Plugin[];
    try {
      builtins = await (await import('../../../plugins/index.js')).loadBuiltinPlugins();
      execFileSync('python3', ['-c', 'pass']);
    } catch {
      this.skip();
      return;
    }
    if (!builtins.some((p) => p.components.some((c) => c.kind === 'tool' && c.name === 'python'))) this.skip();
    let out = '';
    const env = new DefaultCliEnv(await createRegistry(builtins), {
      builtins,
      log: new Logger('test', 'error'),
      stdout: (s) => {
        out += s;
      },
      stderr: () => {},
    });
    const ac = new AbortController();
    let exited: number | Error | undefined;
    const done = serveTools(['--tool', 'python', '--port', '0'], env, ac.signal).then(
      (c) => (exited = c),
      (e: Error) => (exited = e),
    );
    for (let i = 0; i < 400 && !out && exited === undefined; i++) await new Promise((r) => setTimeout(r, 25));
    if (!out)
      assert.fail(`tool-server did not start: ${exited instanceof Error ? exited.message : `exit ${String(exited)}`}`);
    const { url } = JSON.parse(out.split('\n')[0]) as { url: string };
    const t = new RemoteTools({
      ...REMOTE,
      name: 'python',
      pattern: '',
      fences: ['python'],
      actionTemplate: '```python\n{action}\n```',
      url,
      timeoutMs: 60000,
    });
    try {
      const r = await t.conductAction('t', 'print(6 * 7)');
      assert.equal(r.observation.trim(), '42');
      assert.equal(r.valid, true);
    } finally {
      await t.dispose();
      ac.abort();
      assert.equal(await done, 0);
    }
  });
});
