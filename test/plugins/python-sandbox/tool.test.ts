// test/setup.ts waits for a tfjs backend; importing the tfjs bundle registers the cpu one.
import '@tensorflow/tfjs';
import { expect } from 'chai';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliMain, type Tool } from '../../../core/index.js';
import { testTool } from '../../../core/testkit/index.js';
import pythonSandboxPlugin from '../../../plugins/python-sandbox/index.js';
import { observationOf } from '../../../plugins/python-sandbox/action.js';
import { parseCodeAction as parsePythonAction } from '../../../plugins/shared/code-action.js';
import { benchCode, percentile } from '../../../plugins/python-sandbox/bench.js';
import { IsolationUnavailableError } from '../../../plugins/python-sandbox/sandbox.js';
import { SESSION_LOST_NOTE, type PythonTool } from '../../../plugins/python-sandbox/tool.js';
import type { ExecResult } from '../../../plugins/python-sandbox/worker.js';
import { makeTool } from './helpers.js';

// One warm tool for the whole conformance suite (starting workers costs about a second each);
// the suite's per-test dispose is a no-op on the view it gets.
let shared: Promise<PythonTool> | undefined;
const sharedView = async (): Promise<Tool> => {
  const t = await (shared ??= makeTool({ warmup: 'default' }));
  return {
    name: t.name,
    parseAction: (x) => t.parseAction(x),
    conductAction: (id, a, e) => t.conductAction(id, a, e),
    finish: (id) => t.finish(id),
  };
};
after(async () => {
  await (await shared)?.dispose();
});

testTool('tool/python', sharedView, {
  valid: [
    { text: 'I will use python.\n```python\nprint(12 * 34 + 5)\n```\n```output', action: 'print(12 * 34 + 5)' },
    { text: '```py\nx = 1\nprint(x)\n```', action: 'x = 1\nprint(x)' },
    {
      text: '```python\nprint(1)\n```\n```output\n1\n```\nagain\n```python\nprint(2)\n```\n```output',
      action: 'print(1)\nprint(2)',
    },
    { text: "<python>print('Hello from Python!')</python> ...", action: "print('Hello from Python!')" },
  ],
  invalid: [
    'no code',
    '```python\nprint(1)\n```output',
    '```python\n\n```\n```output',
    '```js\nconsole.log(1)\n```\n```output',
    '```python\nunclosed',
  ],
  run: [
    {
      action: 'print(12 * 34 + 5)',
      check: (r) => expect(r).to.deep.include({ observation: '413', valid: true, done: false }),
    },
    {
      action: 'import sympy\nprint(sympy.factorint(360))',
      check: (r) => expect(r.observation).to.equal('{2: 3, 3: 2, 5: 1}'),
    },
    {
      action: 'import numpy as np\nprint(int(np.arange(10).sum()))',
      check: (r) => expect(r.observation).to.equal('45'),
    },
    {
      action: 'raise ValueError("bad")',
      check: (r) => {
        expect(r.observation).to.match(/ValueError: bad$/);
        expect(r.info?.status).to.equal('error');
        expect(r.valid).to.equal(true);
      },
    },
  ],
});

describe('tool/python: parsing and observations', () => {
  const code = (text: string, stops?: string[]) => parsePythonAction(text, stops)?.code ?? null;

  it('runs every closed python block of the turn together, in order, before the stop string', () => {
    expect(code('```python\na = 1\n```\ntext\n```python\nb = 2\nprint(a + b)\n```\n```output')).to.equal(
      'a = 1\nb = 2\nprint(a + b)',
    );
    // A block after the stop string that ended the turn is not looked at only when the stop is the last thing.
    expect(code('```python\na\n```\n```output\n1\n```\n')).to.equal('a');
    expect(code('```python\nprint(1)\n```\n```output', ['```output'])).to.equal('print(1)');
    expect(code('```python   \r\nprint(1)\r\n```')).to.equal('print(1)');
    expect(code('```python print(1)```')).to.equal('print(1)');
    expect(code('```python\nprint(1)')).to.equal(null);
    expect(code('```python\n   \n```')).to.equal(null);
    expect(code('```python3\nprint(1)\n```')).to.equal(null, 'another info string');
    // indentation the block's lines share is not the program's (VeRL-Tool strips the first line's only)
    expect(code('```python\n    for i in range(2):\n        print(i)\n```')).to.equal(
      'for i in range(2):\n    print(i)',
    );
  });

  it('reads <python> blocks (all of them, before any fenced block), as VeRL-Tool does', () => {
    expect(code("<python>print('Hello from Python!')</python> ...")).to.equal("print('Hello from Python!')");
    expect(
      code("```<python>\nprint('Hello from Python!')</python> ... <python>print('Hello again!')</python>``` ..."),
    ).to.equal("print('Hello from Python!')\nprint('Hello again!')");
    expect(code('```python\nprint(0)\n```\n<python>print(1)</python>')).to.equal('print(1)', 'tags win over fences');
    expect(code('<python>\n</python>')).to.equal(null);
  });

  it('takes the first closed ```input block as stdin', () => {
    expect(parsePythonAction('```python\nprint(input())\n```\n```input\n 3 4 \n```\n```output')).to.deep.equal({
      code: 'print(input())',
      stdin: '3 4',
    });
    expect(parsePythonAction('```python\nprint(input())\n```\n```input\n1\n```\n```input\n2\n```')?.stdin).to.equal(
      '1',
    );
    expect(parsePythonAction('```python\nprint(1)\n```\n```input\n1')).to.deep.equal(
      { code: 'print(1)' },
      'unclosed: no stdin',
    );
  });

  const res = (o: Partial<ExecResult>): ExecResult => ({
    status: 'ok',
    stdout: '',
    stderr: '',
    exitCode: 0,
    wallMs: 1,
    ...o,
  });
  const caps = { maxChars: 60, errorTailChars: 30 };

  it('ok: stdout without trailing whitespace, capped at the head within maxChars', () => {
    expect(observationOf(res({ stdout: '413\n\n' }), caps, 5)).to.equal('413');
    const o = observationOf(res({ stdout: 'x'.repeat(100) }), caps, 5);
    // The note is sized for the worst case ('(100 more characters)', 26 with the newline): 34 kept.
    expect(o).to.equal(`${'x'.repeat(34)}\n... (66 more characters)`);
    expect(o.length).to.be.at.most(60);
  });

  it('error: what it printed, then the end of the traceback; stdout gives way first', () => {
    const stderr = `Traceback (most recent call last):\n  File "<code>", line 1\nZeroDivisionError: division by zero\n`;
    const e = stderr.trimEnd();
    expect(
      observationOf(
        res({ status: 'error', stdout: 'partial\n', stderr, exitCode: 1 }),
        { maxChars: 200, errorTailChars: 200 },
        5,
      ),
    ).to.equal(`partial\n${e}`);
    // errorTailChars 30: the note '(N characters before) ...\n' (27) leaves 3 characters of the traceback.
    const tail = `(${e.length - 3} characters before) ...\n${e.slice(-3)}`;
    expect(tail).to.have.length(30);
    expect(
      observationOf(
        res({ status: 'error', stdout: 'partial\n', stderr, exitCode: 1 }),
        { maxChars: 200, errorTailChars: 30 },
        5,
      ),
    ).to.equal(`partial\n${tail}`);
    // maxChars 40: 30 for the tail, 1 newline, 9 left for stdout: 'partial' fits, a longer one is cut.
    expect(
      observationOf(
        res({ status: 'error', stdout: 'partial', stderr, exitCode: 1 }),
        { maxChars: 40, errorTailChars: 30 },
        5,
      ),
    ).to.equal(`partial\n${tail}`);
    expect(
      observationOf(
        res({ status: 'error', stdout: 'partial output', stderr, exitCode: 1 }),
        { maxChars: 40, errorTailChars: 30 },
        5,
      ),
    ).to.equal(`partial o\n${tail}`);
  });

  it('timeout, killed and sandbox errors say why', () => {
    expect(observationOf(res({ status: 'timeout', exitCode: -9 }), caps, 5)).to.equal(
      'TimeoutError: the program ran longer than 5 s and was killed',
    );
    expect(observationOf(res({ status: 'killed', reason: 'CPU time limit exceeded' }), caps, 5)).to.equal(
      'Killed: CPU time limit exceeded',
    );
    expect(observationOf(res({ status: 'sandbox_error', reason: 'worker died' }), caps, 5)).to.equal(
      'sandbox error: worker died',
    );
  });

  it('percentile is nearest-rank', () => {
    const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(xs, 50)).to.equal(5);
    expect(percentile(xs, 95)).to.equal(10);
    expect(percentile([7], 95)).to.equal(7);
    // Bench call 0 factors (x - 2)(x + 3)(x - 5) = x^3 - 4x^2 - 11x + 30.
    expect(benchCode(0).factors).to.deep.equal(['(x - 2)', '(x + 3)', '(x - 5)']);
    expect(benchCode(0).code).to.include('(x - 2) * (x + 3) * (x - 5)');
  });
});

describe('tool/python: workers, state and isolation policy', function () {
  this.timeout(30_000);
  let tool: PythonTool;
  before(async () => {
    tool = await makeTool({ workers: 2, stateful: true });
  });
  after(async () => {
    await tool?.dispose();
  });

  it('workers are warm: the preload modules are imported before the program starts', async () => {
    const r = await tool.conductAction(
      'w',
      "import sys\nprint(all(m in sys.modules for m in ('math', 'sympy', 'numpy')))",
    );
    expect(r.observation).to.equal('True');
    expect(tool.sandbox.info.interpreter.has).to.deep.equal(['math', 'sympy', 'numpy']);
    await tool.finish('w');
  });

  it('the warm-up runs once per worker and every program inherits what it set up', async () => {
    const t = await makeTool({ warmup: 'import builtins, os\nbuiltins.WARMED_IN = os.getpid()' });
    try {
      const a = await t.conductAction('x', 'import builtins, os\nprint(builtins.WARMED_IN != os.getpid())');
      const b = await t.conductAction('y', 'import builtins\nprint(builtins.WARMED_IN)');
      const c = await t.conductAction('z', 'import builtins\nprint(builtins.WARMED_IN)');
      expect(a.observation).to.equal('True');
      expect(b.observation).to.match(/^\d+$/);
      expect(c.observation).to.equal(b.observation);
    } finally {
      await t.dispose();
    }
  });

  it("preImport: verl-tool gives programs VeRL-Tool's star imports, keeps builtins, and tracebacks keep the model's line numbers", async () => {
    const t = await makeTool({ preImport: 'verl-tool', stateful: true });
    try {
      // factorial/gcd from math, permutations from itertools, Counter from collections; pow is the builtin (math.pow
      // would print 1024.0)
      const r = await t.conductAction(
        'p',
        'print(factorial(5), gcd(12, 18), list(permutations([1, 2])), Counter("aab")["a"], pow(2, 10), math.pi > 3)',
      );
      expect(r.observation).to.equal('120 6 [(1, 2), (2, 1)] 2 1024 True');
      // once per session: the model's own e survives the next call
      await t.conductAction('p', 'e = 5');
      expect((await t.conductAction('p', 'print(e)')).observation).to.equal('5');
      const err = await t.conductAction('q', 'x = 1\ny = 2\nprnit(x)');
      expect(err.observation).to.match(/File "<code>", line 3, in <module>\nNameError: name 'prnit' is not defined/);
      const syn = await t.conductAction('q', 'x = 1\nif x\n  pass');
      expect(syn.observation).to.match(/File "<code>", line 2\n/);
    } finally {
      await t.dispose();
    }
    const off = await makeTool();
    try {
      expect((await off.conductAction('n', 'print(factorial(5))')).observation).to.match(
        /NameError: name 'factorial' is not defined$/,
      );
    } finally {
      await off.dispose();
    }
  });

  it('preImport: a module that cannot be imported fails when the tool is built', async () => {
    let err: Error | undefined;
    try {
      await (await makeTool({ preImport: ['math', 'no_such_module_xyz'] })).dispose();
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.match(
      /preImport \["math","no_such_module_xyz"\] fails in .*No module named 'no_such_module_xyz'/,
    );
  });

  it('stdin from a ```input block reaches the program through parseAction', async () => {
    const p = tool.parseAction(
      '```python\nimport sys\nprint(sum(map(int, sys.stdin.read().split())))\n```\n```input\n3 4\n5\n```\n```output',
    );
    const r = await tool.conductAction('s', p.action as string, p.extra);
    expect(r.observation).to.equal('12');
    await tool.finish('s');
  });

  it('stateful: variables persist within a trajectory, never across, and finish frees them', async () => {
    expect((await tool.conductAction('a', 'x = 5')).observation).to.equal('');
    expect((await tool.conductAction('b', 'x = 9')).observation).to.equal('');
    expect((await tool.conductAction('a', 'print(x)')).observation).to.equal('5');
    expect((await tool.conductAction('b', 'print(x)')).observation).to.equal('9');
    expect((await tool.conductAction('c', 'print(x)')).observation).to.match(/NameError: name 'x' is not defined$/);
    expect(tool.sandbox.activeSessions).to.equal(3);
    await tool.finish('a');
    await tool.finish('a');
    expect((await tool.conductAction('a', 'print(x)')).observation).to.match(/NameError/);
    for (const id of ['a', 'b', 'c']) await tool.finish(id);
    expect(tool.sandbox.activeSessions).to.equal(0);
  });

  it('stateful: a killed session says its state was lost, and the next call starts fresh', async () => {
    await tool.conductAction('k', 'y = 1');
    const r = await tool.conductAction('k', 'while True:\n    pass');
    expect(['killed', 'timeout']).to.include(r.info?.status);
    expect(r.observation.endsWith(`\n${SESSION_LOST_NOTE}`)).to.equal(true);
    const after = await tool.conductAction('k', 'print(y)');
    expect(after.observation).to.match(/NameError: name 'y' is not defined$/);
    // A worker restart between calls is reported on the next call of each session it held.
    await tool.conductAction('k', 'y = 2');
    for (const p of tool.sandbox.pids) if (p) process.kill(-p, 'SIGKILL');
    await new Promise((res) => setTimeout(res, 300));
    const gone = await tool.conductAction('k', 'print(y)');
    expect(gone.observation).to.match(/NameError: name 'y' is not defined\nNote: the interpreter was restarted/);
    await tool.finish('k');
  });

  it('a program running to its timeout holds one worker only: calls queued after it go to the other', async () => {
    const t = await makeTool({ workers: 2, timeoutSeconds: 1.5 });
    try {
      const done: string[] = [];
      const slow = t.conductAction('s', 'import time\ntime.sleep(60)').then(() => done.push('slow'));
      const quick = Array.from({ length: 6 }, (_, i) =>
        t.conductAction(`q${i}`, `print(${i})`).then((r) => done.push(r.observation)),
      );
      await Promise.all([slow, ...quick]);
      expect(done.slice(0, 6).sort()).to.deep.equal(['0', '1', '2', '3', '4', '5']);
      expect(done[6]).to.equal('slow');
    } finally {
      await t.dispose();
    }
  });

  it('a call whose caller gave up (signal) leaves the queue at once; the running one is not disturbed', async () => {
    const t = await makeTool({ workers: 1 });
    try {
      const running = t.conductAction('r', 'import time\ntime.sleep(0.8)\nprint("slept")');
      const ac = new AbortController();
      const t0 = performance.now();
      const queued = t.conductAction('q', 'print("never")', { signal: ac.signal });
      setTimeout(() => ac.abort(), 100);
      const q = await queued;
      expect(performance.now() - t0).to.be.lessThan(600);
      expect(q).to.deep.include({ valid: false, observation: 'sandbox error: cancelled before it ran' });
      expect((await running).observation).to.equal('slept');
      expect((await t.conductAction('n', 'print(3)')).observation).to.equal('3');
    } finally {
      await t.dispose();
    }
  });

  it('stateless by default: nothing survives between calls of one trajectory', async () => {
    const t = await makeTool();
    try {
      await t.conductAction('s', 'z = 3');
      expect((await t.conductAction('s', 'print(z)')).observation).to.match(/NameError/);
    } finally {
      await t.dispose();
    }
  });

  it('a worker that dies mid-call gives a sandbox_error (invalid) and the next call works', async () => {
    const t = await makeTool({ timeoutSeconds: 5 });
    try {
      const pending = t.conductAction('d', 'import time\ntime.sleep(3)');
      await new Promise((r) => setTimeout(r, 300));
      process.kill(-(t.sandbox.pids[0] as number), 'SIGKILL');
      const r = await pending;
      expect(r.valid).to.equal(false);
      expect(r.info?.status).to.equal('sandbox_error');
      expect(r.observation).to.match(/^sandbox error: Python worker exited/);
      expect((await t.conductAction('d', 'print(1 + 1)')).observation).to.equal('2');
    } finally {
      await t.dispose();
    }
  });

  it('isolation: required refuses to start without bubblewrap, naming what is missing', async () => {
    let err: unknown;
    try {
      await makeTool({ isolation: 'required', bwrap: '/nonexistent/bwrap' });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(IsolationUnavailableError);
    expect((err as Error).message).to.match(/network isolation.*filesystem isolation/);
  });

  it('isolation: auto without bubblewrap runs CPython in WebAssembly (never unisolated), says so in a warning and every result; none says it was asked', async () => {
    const warnings: string[] = [];
    const auto = await makeTool({ bwrap: '/nonexistent/bwrap2' }, (m) => warnings.push(m));
    try {
      const r = await auto.conductAction('x', 'print(6 * 7)');
      expect(r.observation).to.equal('42');
      expect(r.info?.isolation).to.equal('wasm');
      expect(auto.describe()).to.include({ isolation: 'wasm' });
      expect(String(auto.describe().python)).to.match(/^pyodide .*CPython in WebAssembly.* 3\.\d+/);
      expect(warnings.join('\n')).to.match(/no bubblewrap mode works here.*WebAssembly.*apt-get install bubblewrap/);
      expect(warnings.join('\n')).to.not.match(/WITHOUT isolation/);
    } finally {
      await auto.dispose();
    }
    warnings.length = 0;
    const none = await makeTool({ isolation: 'none', bwrap: '/nonexistent/bwrap2' }, (m) => warnings.push(m));
    try {
      const r = await none.conductAction('x', 'print(2 ** 10)');
      expect(r.observation).to.equal('1024');
      expect(r.info?.isolation).to.equal('none');
      expect(none.describe()).to.deep.include({
        isolation: 'none',
        missing: ['isolation disabled by the recipe (isolation: none)'],
      });
      expect(warnings).to.deep.equal([]);
    } finally {
      await none.dispose();
    }
  });

  it('every result and describe() name the isolation the program ran under', async () => {
    const r = await tool.conductAction('iso', 'print(1)');
    expect(r.info?.isolation).to.equal(tool.sandbox.info.mode);
    expect(tool.describe()).to.include({ isolation: tool.sandbox.info.mode });
    await tool.finish('iso');
  });

  it('a bad interpreter fails clearly', async () => {
    let err: unknown;
    try {
      await makeTool({ interpreter: '/nonexistent/python9' });
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).to.match(/no usable Python interpreter \(tried \/nonexistent\/python9\)/);
  });
});

describe('agent0 sandbox exec / bench sandbox', function () {
  this.timeout(60_000);
  async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const code = await cliMain(argv, {
      builtins: [pythonSandboxPlugin],
      stdout: (s) => {
        out += s;
      },
      stderr: (s) => {
        err += s;
      },
    });
    return { code, out, err };
  }

  it('prints one JSON object per program: ok and timeout', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'a0-sbx-'));
    await fs.writeFile(path.join(dir, 'ok.py'), 'import sympy\nprint(sympy.factorint(360))\n');
    const ok = await cli(['sandbox', 'exec', path.join(dir, 'ok.py')]);
    expect(ok.code).to.equal(0);
    const r = JSON.parse(ok.out) as Record<string, unknown>;
    expect(Object.keys(r)).to.include.members(['status', 'stdout', 'stderr', 'exitCode', 'wallMs']);
    expect(r).to.include({ status: 'ok', stdout: '{2: 3, 3: 2, 5: 1}\n', stderr: '', exitCode: 0 });

    await fs.writeFile(
      path.join(dir, 'r.yaml'),
      [
        'name: sbx',
        'seed: 1',
        'components:',
        '  py: { use: tool/python, options: { timeoutSeconds: 0.5, workers: 1 } }',
        'pipeline: { iterations: 0 }',
      ].join('\n'),
    );
    await fs.writeFile(path.join(dir, 'slow.py'), 'import time\ntime.sleep(10)\n');
    const slow = await cli(['sandbox', 'exec', '--recipe', path.join(dir, 'r.yaml'), path.join(dir, 'slow.py')]);
    expect(JSON.parse(slow.out)).to.include({ status: 'timeout', exitCode: -9 });
    const usage = await cli(['sandbox', 'exec']);
    expect(usage.code).to.equal(2);
  });

  it('bench sandbox reports p50/p95 and calls/s for warm workers and fresh interpreters', async () => {
    const b = await cli(['bench', 'sandbox', '--calls', '4', '--workers', '1', '--json']);
    expect(b.code).to.equal(0);
    const r = JSON.parse(b.out) as { warm: Record<string, number>; fresh: Record<string, number>; ratioP50: number };
    for (const s of [r.warm, r.fresh]) {
      expect(s.failures).to.equal(0);
      expect(s.p50Ms).to.be.greaterThan(0);
      expect(s.p95Ms).to.be.at.least(s.p50Ms);
      expect(s.callsPerSec).to.be.greaterThan(0);
    }
    // Warm workers skip interpreter start-up and the sympy import: far below a fresh process.
    expect(r.warm.p50Ms).to.be.lessThan(r.fresh.p50Ms);
  });
});
