import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry, DefaultCliEnv, Logger, RecipeError } from '../../../core/index.js';
import sandboxFusionPlugin from '../../../plugins/sandbox-fusion/index.js';
import { SandboxFusionTool, type SandboxFusionToolOptions } from '../../../plugins/sandbox-fusion/tool.js';
import { startFakeSandbox, type FakeSandbox } from './fake-server.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const schema = sandboxFusionPlugin.components[0]!.options as { properties: Record<string, { default?: unknown }> };

/** The tool as a recipe builds it: every schema default, then `over`. */
const defaults = (over: Partial<SandboxFusionToolOptions>): SandboxFusionToolOptions =>
  ({
    ...Object.fromEntries(Object.entries(schema.properties).map(([k, s]) => [k, s.default])),
    backoffBaseMs: 1,
    backoffMaxMs: 2,
    ...over,
  }) as SandboxFusionToolOptions;

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** The `## \`tool/sandbox-fusion\`` section of a doc page. */
async function section(doc: string): Promise<string> {
  const text = await fs.readFile(path.join(root, 'docs', doc), 'utf8');
  const at = text.indexOf('## `tool/sandbox-fusion`');
  assert.ok(at >= 0, `${doc} has a tool/sandbox-fusion section`);
  const end = text.indexOf('\n## ', at + 5);
  return text.slice(at, end < 0 ? undefined : end);
}

describe('sandbox-fusion: the docs name the real options', () => {
  for (const doc of ['scaling.md', 'tool-server.md']) {
    it(`${doc}: every option it names exists in the schema`, async () => {
      const text = await section(doc);
      // option-shaped names: `camelCase` in backticks, alone
      const named = [...text.matchAll(/`([a-z]+(?:[A-Z][a-z0-9]*)+)`/g)].map((m) => m[1]!);
      // names that are not options: the Tool's methods and exec()'s outcome fields
      const methods = new Set(['conductAction', 'parseAction', 'exitCode', 'wallMs']);
      const unknown = [...new Set(named)].filter((n) => !(n in schema.properties) && !methods.has(n));
      assert.deepEqual(unknown, [], `${doc} names options tool/sandbox-fusion does not have`);
      assert.ok(named.includes('errorTailChars'), `${doc} names errorTailChars`);
    });
  }

  it('tool-server.md lists every option of the schema', async () => {
    const text = await section('tool-server.md');
    const missing = Object.keys(schema.properties).filter((k) => !text.includes(`\`${k}\``));
    assert.deepEqual(missing, []);
  });
});

describe('sandbox-fusion: failures that leave stderr empty', () => {
  let fake: FakeSandbox;
  let tool: SandboxFusionTool;
  beforeEach(async () => {
    fake = await startFakeSandbox();
    tool = new SandboxFusionTool(defaults({ urls: [fake.url] }));
  });
  afterEach(async () => {
    await tool.dispose();
    await fake.close();
  });

  it('says a program exited non-zero when it printed no error', async () => {
    const r = await tool.conductAction('t', "print('partial')\nexit(3)");
    assert.equal(r.observation, 'partial\nError: the program exited with code 3 and printed no error message');
    assert.deepEqual([r.valid, r.info?.status, r.info?.exitCode], [true, 'error', 3]);
  });

  it('says a program was killed (SandboxFusion reports signal N as return code -N)', async () => {
    const r = await tool.conductAction('t', 'kill(9)');
    assert.equal(
      r.observation,
      'Killed: the program was killed by SIGKILL, usually for exceeding the memory limit (exit code -9)',
    );
    assert.deepEqual([r.valid, r.info?.status, r.info?.exitCode], [true, 'killed', -9]);
    const seg = await tool.exec('kill(11)');
    assert.equal(seg.status, 'killed');
    assert.equal(
      (await tool.conductAction('t', 'kill(11)')).observation,
      'Killed: the program was killed by SIGSEGV (segmentation fault) (exit code -11)',
    );
  });

  it("reads a shell's 128 + N as signal N when stderr is silent", async () => {
    const r = await tool.conductAction('t', 'exit(137)');
    assert.equal(r.info?.status, 'killed');
    assert.match(r.observation, /^Killed: the program was killed by SIGKILL.*\(exit code 137\)$/);
  });

  it('leaves a traceback as it is: stderr already says what failed', async () => {
    const r = await tool.conductAction('t', 'raise ValueError');
    assert.match(r.observation, /ValueError: boom$/);
    assert.doesNotMatch(r.observation, /exited with code/);
  });
});

describe('sandbox-fusion: files and fetch_files', () => {
  let fake: FakeSandbox;
  const tools: SandboxFusionTool[] = [];
  const make = (o: Partial<SandboxFusionToolOptions>) => {
    const t = new SandboxFusionTool(defaults({ urls: [fake.url], ...o }));
    tools.push(t);
    return t;
  };
  beforeEach(async () => {
    fake = await startFakeSandbox();
  });
  afterEach(async () => {
    await Promise.all(tools.splice(0).map((t) => t.dispose()));
    await fake.close();
  });

  it("sends the tool's files and the call's, base64, and the program reads them", async () => {
    const t = make({ files: { 'data.txt': b64('12 34\n') } });
    const r = await t.conductAction('t', "cat('data.txt')\ncat('extra.csv')", { files: { 'extra.csv': b64('a,b\n') } });
    assert.equal(r.observation, '12 34\na,b');
    assert.deepEqual(fake.received[0]!.files, { 'data.txt': 'MTIgMzQK', 'extra.csv': 'YSxiCg==' });
    assert.equal('fetch_files' in fake.received[0]!, false, 'nothing to fetch, nothing sent');
    // bytes are encoded for the caller
    const bytes = await t.exec("cat('raw.bin')", { files: { 'raw.bin': new Uint8Array([104, 105]) } });
    assert.equal(bytes.stdout, 'hi');
  });

  it('fetches files after the run and returns them base64 (missing ones are left out)', async () => {
    const t = make({ fetchFiles: ['out.txt', 'missing.txt'] });
    const r = await t.exec("write('out.txt', 'hello')\nwrite('plot.svg', '<svg/>')", { fetch_files: ['plot.svg'] });
    assert.deepEqual(fake.received[0]!.fetch_files, ['out.txt', 'missing.txt', 'plot.svg']);
    assert.deepEqual(r.files, { 'out.txt': 'aGVsbG8=', 'plot.svg': 'PHN2Zy8+' });
    const c = await t.conductAction('t', "write('out.txt', 'x')");
    assert.equal(c.info?.fetchedFiles, 'out.txt');
  });

  it('refuses malformed extra.files without sending anything', async () => {
    const t = make({});
    const r = await t.conductAction('t', 'print(1)', { files: { 'a.txt': 'not base64!' } });
    assert.equal(r.valid, false);
    assert.equal(r.observation, 'sandbox error: extra.files["a.txt"]: expected base64 text or bytes');
    assert.equal(fake.received.length, 0);
  });

  it("builds the files of a recipe's options: a local path, text or base64", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'agent0-sf-files-'));
    await fs.writeFile(path.join(dir, 'local.txt'), 'from disk\n');
    const env = new DefaultCliEnv(await createRegistry([sandboxFusionPlugin]), {
      builtins: [sandboxFusionPlugin],
      log: new Logger('test', 'error'),
    });
    const t = await env.createComponent('tool', 'sandbox-fusion', {
      urls: [fake.url],
      files: {
        'a.txt': { path: path.join(dir, 'local.txt') },
        'b.txt': { text: 'inline\n' },
        'c.txt': { base64: b64('coded\n') },
      },
    });
    tools.push(t as SandboxFusionTool);
    const r = await t.conductAction('t', "cat('a.txt')\ncat('b.txt')\ncat('c.txt')");
    assert.equal(r.observation, 'from disk\ninline\ncoded');
    await assert.rejects(
      env.createComponent('tool', 'sandbox-fusion', { files: { 'x.txt': { base64: 'abc' } } }),
      RecipeError,
    );
  });
});

describe('sandbox-fusion: SandboxError retries', () => {
  let fake: FakeSandbox;
  let other: FakeSandbox;
  const tools: SandboxFusionTool[] = [];
  beforeEach(async () => {
    fake = await startFakeSandbox();
    other = await startFakeSandbox();
  });
  afterEach(async () => {
    await Promise.all(tools.splice(0).map((t) => t.dispose()));
    await fake.close();
    await other.close();
  });

  it('stops when the same SandboxError comes back: one retry, not three, by default', async () => {
    const t = new SandboxFusionTool(defaults({ urls: [fake.url] }));
    tools.push(t);
    assert.equal(schema.properties.retries!.default, 3);
    fake.fallback = 'sandbox-error';
    const r = await t.conductAction('t', 'print(1)');
    assert.deepEqual([r.valid, r.observation], [false, 'sandbox error: container crashed']);
    assert.equal(fake.received.length, 2);
  });

  it('the retry goes to another server, where a broken container is not', async () => {
    const t = new SandboxFusionTool(defaults({ urls: [fake.url, other.url] }));
    tools.push(t);
    fake.fallback = 'sandbox-error';
    const rs = await Promise.all([1, 2, 3].map((i) => t.conductAction(`t${i}`, `print(${i})`)));
    assert.deepEqual(
      rs.map((r) => r.observation),
      ['1', '2', '3'],
    );
  });

  it('keeps retrying SandboxErrors that differ (a flaky sandbox), up to retries', async () => {
    const t = new SandboxFusionTool(defaults({ urls: [fake.url] }));
    tools.push(t);
    fake.fallback = 'sandbox-error-varying';
    const r = await t.conductAction('t', 'print(1)');
    assert.equal(r.valid, false);
    assert.equal(fake.received.length, 4);
    fake.plan = ['sandbox-error-varying', 'sandbox-error-varying'];
    fake.fallback = 'ok';
    assert.equal((await t.conductAction('t', 'print(7)')).observation, '7');
  });
});

describe('sandbox-fusion: the docs/tool-server.md support table', () => {
  let fake: FakeSandbox;
  let other: FakeSandbox;
  const tools: SandboxFusionTool[] = [];
  const make = (o: Partial<SandboxFusionToolOptions> = {}) => {
    const t = new SandboxFusionTool(defaults({ urls: [fake.url], ...o }));
    tools.push(t);
    return t;
  };
  beforeEach(async () => {
    fake = await startFakeSandbox();
    other = await startFakeSandbox();
  });
  afterEach(async () => {
    await Promise.all(tools.splice(0).map((t) => t.dispose()));
    await fake.close();
    await other.close();
  });
  const sent = () => fake.received[fake.received.length - 1]!;

  /** One check per row: true exactly when the feature works as the row's "yes" says. */
  const CHECKS: Record<string, () => Promise<boolean>> = {
    'SandboxFusion | POST /run_code | code, language, compile_timeout, run_timeout, memory_limit_MB': async () => {
      await make({ language: 'python', runTimeoutSeconds: 7, compileTimeoutSeconds: 3, memoryLimitMB: 256 }).exec(
        'print(1)',
      );
      const b = sent();
      return (
        b.code === 'print(1)' &&
        b.language === 'python' &&
        b.run_timeout === 7 &&
        b.compile_timeout === 3 &&
        b.memory_limit_MB === 256
      );
    },
    'SandboxFusion | POST /run_code | stdin': async () => {
      await make({ stdin: 'a' }).exec('print(1)', { stdin: 'b' });
      return sent().stdin === 'b';
    },
    'SandboxFusion | POST /run_code | files': async () =>
      (await make({ files: { 'x.txt': b64('x') } }).exec("cat('x.txt')")).stdout === 'x',
    'SandboxFusion | POST /run_code | fetch_files': async () => {
      const r = await make().exec("write('o.txt', 'y')", { fetch_files: ['o.txt'] });
      return r.files?.['o.txt'] === b64('y');
    },
    'SandboxFusion | POST /run_code | args': async () => {
      await make().exec('print(1)', { args: ['-q'] });
      return 'args' in sent();
    },
    'SandboxFusion | POST /run_code | run_result.return_code below 0': async () =>
      (await make().conductAction('t', 'kill(9)')).observation.startsWith('Killed: '),
    'SandboxFusion | POST /run_code | status: Failed with an empty stderr': async () =>
      /^Error: the program exited with code 4/.test((await make().conductAction('t', 'exit(4)')).observation),
    'SandboxFusion | POST /run_code | status: SandboxError': async () => {
      fake.fallback = 'sandbox-error';
      const once = (await make({ urls: [fake.url, other.url] }).conductAction('t', 'print(2)')).observation === '2';
      const before = fake.received.length;
      const r = await make().conductAction('t', 'print(3)');
      return once && r.observation === 'sandbox error: container crashed' && fake.received.length - before === 2;
    },
    'VeRL-Tool python_code | action | every code block of a turn, run together': async () => {
      const t = make();
      const p = t.parseAction('```python\nprint(1)\n```\nthen\n```python\nprint(2)\n```\n```output');
      if (!p.valid) return false;
      const r = await t.conductAction('t', p.action as string, p.extra);
      return sent().code === 'print(1)\nprint(2)' && r.observation === '1\n2';
    },
    'VeRL-Tool python_code | action | input block as stdin': async () => {
      const t = make({ stdin: 'option' });
      const p = t.parseAction('```python\nprint(input())\n```\n```input\n5\n```\n```output');
      if (!p.valid) return false;
      await t.conductAction('t', p.action as string, p.extra);
      return sent().stdin === '5';
    },
    'SandboxFusion | POST /run_jupyter | cells': async () => {
      await make().exec('print(1)');
      return fake.received.some((b) => 'cells' in b);
    },
  };

  it('has a check for every row and a row for every check, and each holds exactly when the row says yes', async () => {
    const text = await section('tool-server.md');
    const lines = text.split('\n');
    const head = lines.findIndex((l) => /^\|\s*peer\s*\|\s*route\s*\|\s*field\s*\|\s*supported\s*\|/.test(l));
    assert.ok(head >= 0, 'the tool/sandbox-fusion section has a "peer | route | field | supported" table');
    const rows: { key: string; yes: boolean }[] = [];
    for (const line of lines.slice(head + 2)) {
      if (!line.startsWith('|')) break;
      const [peer, route, field, supported] = line
        .split('|')
        .slice(1, -1)
        .map((c) => c.replace(/`/g, '').trim()) as [string, string, string, string];
      rows.push({ key: `${peer} | ${route} | ${field}`, yes: /^yes\b/.test(supported) });
    }
    assert.deepEqual(rows.map((r) => r.key).sort(), Object.keys(CHECKS).sort());
    for (const r of rows) {
      assert.equal(await CHECKS[r.key]!(), r.yes, r.key);
      fake.fallback = 'ok';
    }
  });
});
