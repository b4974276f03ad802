import assert from 'node:assert/strict';
import net from 'node:net';
import { testTool } from '../../../core/testkit/index.js';
import { observationOf } from '../../../plugins/sandbox-fusion/action.js';
import { parseRunCodeResponse } from '../../../plugins/sandbox-fusion/protocol.js';
import { SandboxFusionTool, type SandboxFusionToolOptions } from '../../../plugins/sandbox-fusion/tool.js';
import { startFakeSandbox, type FakeSandbox } from './fake-server.js';

const BASE: SandboxFusionToolOptions = {
  name: 'python',
  urls: [],
  language: 'python',
  fences: ['python', 'py'],
  runTimeoutSeconds: 5,
  compileTimeoutSeconds: 5,
  memoryLimitMB: 512,
  stdin: '',
  requestTimeoutMs: 2000,
  connectTimeoutMs: 1000,
  retries: 3,
  retrySandboxErrors: true,
  backoffBaseMs: 5,
  backoffMaxMs: 20,
  connections: 8,
  keepAliveMs: 5000,
  cooldownMs: 1000,
  maxObservationChars: 400,
  errorTailChars: 120,
};

/** A port with nothing listening: connecting to it is refused. */
async function deadUrl(): Promise<string> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

describe('sandbox-fusion: action parsing and observations', () => {
  it('runs every closed code block of the turn together, as tool/python does, before the output stop string', () => {
    const t = new SandboxFusionTool({ ...BASE, urls: ['http://127.0.0.1:1'] });
    const text = 'try\n```python\na = 1\n```\ntext\n```py\nx = 2\nprint(a + x)\n```\n```output';
    assert.deepEqual(t.parseAction(text), { valid: true, action: 'a = 1\nx = 2\nprint(a + x)' });
    assert.deepEqual(t.parseAction("<python>print('tag')</python> and <python>print(2)</python>"), {
      valid: true,
      action: "print('tag')\nprint(2)",
    });
    assert.deepEqual(t.parseAction('```python\nprint(input())\n```\n```input\n3 4\n```\n```output'), {
      valid: true,
      action: 'print(input())',
      extra: { stdin: '3 4' },
    });
    assert.deepEqual(t.parseAction('```python\nprint(1)'), { valid: false }, 'unclosed block');
    assert.deepEqual(t.parseAction('```python\n   \n```'), { valid: false }, 'empty block');
    assert.deepEqual(t.parseAction('```bash\nls\n```'), { valid: false }, 'other language');
    const bash = new SandboxFusionTool({ ...BASE, urls: ['http://127.0.0.1:1'], language: 'bash', fences: ['bash'] });
    assert.deepEqual(bash.parseAction('```bash\ncd /tmp\n```\n```bash\nls\n```'), {
      valid: true,
      action: 'cd /tmp\nls',
    });
    assert.deepEqual(
      bash.parseAction('<python>print(1)</python>'),
      { valid: false },
      '<python> tags only where fences list python',
    );
    void t.dispose();
    void bash.dispose();
  });

  it('shows stdout, or on failure stdout then the stderr tail, within the cap', () => {
    const lim = { maxChars: 50, errorTailChars: 20 };
    assert.equal(observationOf('42\n', '', false, lim), '42');
    // stderr 'Traceback...\nValueError: bad' is 28 characters: the last 20 stay
    assert.equal(
      observationOf('partial\n', 'Traceback...\nValueError: bad\n', true, { maxChars: 200, errorTailChars: 20 }),
      'partial\n[8 earlier characters truncated]...\nk...\nValueError: bad',
    );
    // 50 - 10 (stderr) - 1 (newline) = 39 characters of stdout survive
    const big = observationOf('x'.repeat(500), 'E'.repeat(10), true, lim);
    assert.equal(big, `${'x'.repeat(39)}\n...[461 more characters truncated]\n${'E'.repeat(10)}`);
    assert.equal(observationOf('a'.repeat(60), '', false, lim), `${'a'.repeat(50)}\n...[10 more characters truncated]`);
  });

  it('validates SandboxFusion answers and normalises null streams', () => {
    const r = parseRunCodeResponse({
      status: 'Success',
      message: '',
      compile_result: null,
      run_result: { status: 'Finished', execution_time: 0.1, return_code: 0, stdout: null, stderr: null },
    });
    assert.deepEqual(r.run_result, { status: 'Finished', execution_time: 0.1, return_code: 0, stdout: '', stderr: '' });
    assert.throws(
      () => parseRunCodeResponse({ status: 'Done' }),
      /status: expected Success, Failed or SandboxError, found "Done"/,
    );
    assert.throws(
      () => parseRunCodeResponse({ status: 'Success', run_result: { status: 'Finished', stdout: 3 } }),
      /run_result.stdout: expected a string/,
    );
    assert.throws(() => parseRunCodeResponse([]), /expected a JSON object/);
  });
});

describe('sandbox-fusion: client against a fault-injecting server', () => {
  let a: FakeSandbox;
  let b: FakeSandbox;
  const tools: SandboxFusionTool[] = [];
  const make = (o: Partial<SandboxFusionToolOptions>) => {
    const t = new SandboxFusionTool({ ...BASE, urls: [a.url], ...o });
    tools.push(t);
    return t;
  };
  beforeEach(async () => {
    a = await startFakeSandbox();
    b = await startFakeSandbox();
  });
  afterEach(async () => {
    await Promise.all(tools.splice(0).map((t) => t.dispose()));
    await a.close();
    await b.close();
  });

  it("sends SandboxFusion's request fields and maps a successful run", async () => {
    const t = make({ stdin: '7\n' });
    const r = await t.conductAction('t1', "print(413)\nprint('done')");
    assert.equal(r.observation, '413\ndone');
    assert.equal(r.valid, true);
    assert.equal(r.done, false);
    assert.equal(r.info?.status, 'ok');
    assert.equal(r.info?.exitCode, 0);
    assert.deepEqual(a.received[0], {
      code: "print(413)\nprint('done')",
      language: 'python',
      compile_timeout: 5,
      run_timeout: 5,
      memory_limit_MB: 512,
      stdin: '7\n',
    });
  });

  it('reports a program error with the traceback tail, and a time limit clearly', async () => {
    const t = make({});
    const err = await t.conductAction('t1', 'print(1)\nraise ValueError');
    assert.equal(err.valid, true, 'a program that raised is still a valid action');
    assert.equal(err.info?.status, 'error');
    assert.match(err.observation, /^1\n/);
    assert.match(err.observation, /ValueError: boom$/);
    const tle = await t.conductAction('t1', "print('start')\nwhile True:");
    assert.equal(tle.info?.status, 'timeout');
    assert.match(tle.observation, /^start\nTimeoutError: the program ran longer than 5 s/);
  });

  it('reports raw outcomes through exec (what `agent0 sandbox exec` prints)', async () => {
    const t = make({ retries: 0 });
    const ok = await t.exec("print(1)\nprint('x')");
    assert.deepEqual({ ...ok, wallMs: 0 }, { status: 'ok', stdout: '1\nx\n', stderr: '', exitCode: 0, wallMs: 0 });
    const err = await t.exec('raise KeyError');
    assert.equal(err.status, 'error');
    assert.equal(err.exitCode, 1);
    assert.match(err.stderr, /KeyError: boom\n$/);
    assert.equal((await t.exec('while True:')).status, 'timeout');
    const comp = await t.exec('compile_error');
    assert.deepEqual([comp.status, comp.reason, comp.stderr], ['error', 'compile', 'main.cpp:1: error: expected ;\n']);
    const crash = await t.exec('runner_crash');
    assert.deepEqual([crash.status, crash.reason], ['sandbox_error', 'runner died']);
    const obs = await t.conductAction('t', 'compile_error');
    assert.deepEqual([obs.observation, obs.valid, obs.info?.stage], ['main.cpp:1: error: expected ;', true, 'compile']);
    const down = new SandboxFusionTool({ ...BASE, urls: [await deadUrl()], retries: 0 });
    tools.push(down);
    const d = await down.exec('print(1)');
    assert.equal(d.status, 'sandbox_error');
    assert.match(d.reason ?? '', /connection failed \(ECONNREFUSED\)/);
  });

  it('caps a flood of output', async () => {
    const r = await make({}).conductAction('t1', 'flood(100000)');
    assert.ok(r.observation.length < 460, `observation is ${r.observation.length} chars`);
    assert.match(r.observation, /99600 more characters truncated/);
  });

  for (const fault of ['refuse', '500', '503', 'malformed', 'bad-shape', 'sandbox-error', 'hang'] as const) {
    it(`recovers from one '${fault}' answer by retrying`, async () => {
      const t = make({ requestTimeoutMs: 300 });
      a.plan = [fault];
      const r = await t.conductAction('t1', 'print(5)');
      assert.equal(r.observation, '5', JSON.stringify(r));
      assert.equal(r.valid, true);
      assert.equal(a.received.length, 2, 'one failed attempt, one good one');
    });
  }

  it('gives a clear error observation when every attempt fails, and works again afterwards', async () => {
    const t = make({ retries: 2 });
    a.fallback = '500';
    const r = await t.conductAction('t1', 'print(5)');
    assert.equal(r.valid, false);
    assert.equal(r.info?.status, 'sandbox_error');
    assert.match(r.observation, /^sandbox error: SandboxFusion request failed after 3 attempt\(s\): .*HTTP 500/);
    assert.equal(a.received.length, 3);
    a.fallback = 'ok';
    assert.equal((await t.conductAction('t1', 'print(6)')).observation, '6');
  });

  it("a persistent SandboxError comes back as an invalid call with the sandbox's message", async () => {
    const t = make({ retries: 1 });
    a.fallback = 'sandbox-error';
    const r = await t.conductAction('t1', 'print(5)');
    assert.equal(r.valid, false);
    assert.equal(r.observation, 'sandbox error: container crashed');
  });

  it('skips a server that refuses connections and uses the live one', async () => {
    const dead = await deadUrl();
    const t = make({ urls: [dead, a.url], cooldownMs: 60000 });
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => t.conductAction(`t${i}`, `print(${i})`)));
    rs.forEach((r, i) => assert.equal(r.observation, `${i}`));
    assert.equal(a.received.length, 10);
    // calls started together split over both before the first refusal; after it, the dead one cools down
    const before = t.client.stats()[0].failures;
    assert.ok(before >= 1 && before <= 5, `dead server tried ${before} times`);
    for (let i = 0; i < 5; i++) assert.equal((await t.conductAction('later', `print(${i})`)).observation, `${i}`);
    assert.equal(t.client.stats()[0].failures, before, 'no new attempt on the cooled-down server');
  });

  it('spreads concurrent calls over the servers by calls in flight', async () => {
    a.delayMs = 40;
    b.delayMs = 40;
    const t = make({ urls: [a.url, b.url] });
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => t.conductAction(`t${i}`, `print(${i})`)));
    rs.forEach((r, i) => assert.equal(r.observation, `${i}`));
    assert.equal(a.received.length, 10);
    assert.equal(b.received.length, 10);
  });

  it('sends new calls to the less busy server', async () => {
    a.delayMs = 400;
    b.delayMs = 0;
    const t = make({ urls: [a.url, b.url] });
    const slow = t.conductAction('slow', 'print(1)');
    await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 5; i++) await t.conductAction(`fast${i}`, 'print(2)');
    await slow;
    assert.equal(a.received.length, 1);
    assert.equal(b.received.length, 5);
  });

  it('cancels a hanging call when the caller aborts', async () => {
    a.fallback = 'hang';
    const t = make({ requestTimeoutMs: 60000 });
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(), 100);
    const r = await t.conductAction('t1', 'print(1)', { signal: ac.signal });
    assert.ok(Date.now() - t0 < 2000, 'returned promptly');
    assert.equal(r.valid, false);
    assert.match(r.observation, /cancelled/);
  });

  it('times out a hanging server after the retries, with a clear observation', async () => {
    a.fallback = 'hang';
    const t = make({ requestTimeoutMs: 100, retries: 1 });
    const r = await t.conductAction('t1', 'print(1)');
    assert.equal(r.valid, false);
    assert.match(r.observation, /no answer within 100 ms/);
  });
});

describe('sandbox-fusion: conformance', () => {
  let fake: FakeSandbox;
  before(async () => {
    fake = await startFakeSandbox();
  });
  after(() => fake.close());
  testTool('sandbox-fusion', () => new SandboxFusionTool({ ...BASE, urls: [fake.url] }), {
    valid: [
      { text: 'I will use python.\n```python\nprint(12 * 34 + 5)\n```\n```output', action: 'print(12 * 34 + 5)' },
    ],
    invalid: ['no code here', '```python\nprint(1)', '```js\nconsole.log(1)\n```'],
    run: [{ action: 'print(7)', check: (r) => assert.equal(r.observation, '7') }],
  });
});

describe('sandbox-fusion: through `agent0 sandbox exec`', () => {
  it('runs a file on the configured SandboxFusion tool and prints its raw result', async function () {
    const { builtinPlugins, loadBuiltinPlugins } = await import('../../../plugins/index.js');
    const exec = (await loadBuiltinPlugins()).flatMap((p) => p.commands ?? []).find((c) => c.name === 'sandbox exec');
    if (!exec) this.skip();
    const { createRegistry, DefaultCliEnv, Logger } = await import('../../../core/index.js');
    const os = await import('node:os');
    const path = await import('node:path');
    const { promises: fs } = await import('node:fs');
    const fake = await startFakeSandbox();
    try {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agent0-sf-'));
      await fs.writeFile(
        path.join(dir, 'r.yaml'),
        `name: sf\ncomponents:\n  python: { use: tool/sandbox-fusion, options: { urls: ['${fake.url}'] } }\npipeline: {}\n`,
      );
      await fs.writeFile(path.join(dir, 'prog.py'), 'print(413)\nraise ValueError\n');
      let out = '';
      const env = new DefaultCliEnv(await createRegistry(builtinPlugins), {
        builtins: builtinPlugins,
        cwd: dir,
        log: new Logger('test', 'error'),
        stdout: (s) => {
          out += s;
        },
        stderr: () => {},
      });
      assert.equal(await exec!.run(['--recipe', path.join(dir, 'r.yaml'), path.join(dir, 'prog.py')], env), 0);
      const r = JSON.parse(out) as Record<string, unknown>;
      assert.equal(r.status, 'error');
      assert.equal(r.stdout, '413\n');
      assert.match(String(r.stderr), /ValueError: boom/);
      assert.equal(r.exitCode, 1);
      assert.equal(fake.received[0].code, 'print(413)\nraise ValueError\n');
    } finally {
      await fake.close();
    }
  });
});
