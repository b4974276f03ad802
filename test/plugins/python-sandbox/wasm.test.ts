// test/setup.ts waits for a tfjs backend; importing the tfjs bundle registers the cpu one.
import '@tensorflow/tfjs';
import { expect } from 'chai';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_SPLITS, generateSplit, pythonFor } from '../../../plugins/arith-world/public.js';
import type { PythonTool } from '../../../plugins/python-sandbox/tool.js';
import { wasmLaunch } from '../../../plugins/python-sandbox/wasm-isolation.js';
import { makeTool } from './helpers.js';

/**
 * Prepended to an attack: finds the runner's globals (those holding its import guard's flag) by
 * walking up from the program's frame, as an attacker would, as `G`, or None.
 */
const RUNNER_GLOBALS = [
  'import sys as _sys',
  'G = None',
  '_f = _sys._getframe()',
  'while _f is not None and G is None:',
  "    if _f.f_globals is not globals() and 'GUARDED' in _f.f_globals:",
  '        G = _f.f_globals',
  '    _f = _f.f_back',
  '',
].join('\n');

/**
 * Prepended to an escape attempt: switches the runner's import guard off through the runner's
 * globals. The guard is hygiene; these tests show that what holds is the vm context and the Node
 * child around the interpreter.
 */
const GUARD_OFF = RUNNER_GLOBALS + "G['GUARDED'][0] = False\nimport pyodide_js as pj\n";

/** A 127.0.0.1 listener that counts connections and HTTP requests of any kind. */
async function trap(): Promise<{ port: number; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    res.end('x');
  });
  server.on('connection', () => {
    hits++;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    hits: () => hits,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('python sandbox: isolation wasm (CPython in WebAssembly in a locked-down Node child)', function () {
  this.timeout(60_000);
  let tool: PythonTool;
  let dir: string;

  before(async () => {
    tool = await makeTool({
      isolation: 'wasm',
      timeoutSeconds: 2,
      cpuSeconds: 2,
      memoryMb: 256,
      maxOutputBytes: 100_000,
      maxObservationChars: 4000,
    });
    dir = mkdtempSync(path.join(os.tmpdir(), 'agent0-wasm-test-'));
  });
  after(async () => {
    await tool?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (code: string, extra?: Record<string, unknown>) => tool.conductAction('t', code, extra);

  it('runs ordinary programs: output, tracebacks with line numbers, exit codes, stdin, files in its own folder', async () => {
    expect((await run('print(sum(i * i for i in range(10)))')).observation).to.equal('285');
    const e = await run('x = 1\nprint("before")\nraise ValueError("bad " + str(x))');
    expect(e.info).to.include({ status: 'error', exitCode: 1, isolation: 'wasm' });
    expect(e.observation).to.match(
      /^before\nTraceback \(most recent call last\):\n {2}File "<code>", line 3, in <module>\nValueError: bad 1$/,
    );
    expect((await run('import sys\nsys.exit(3)')).info).to.include({ status: 'error', exitCode: 3 });
    expect((await run('a = input()\nb = input()\nprint(int(a) + int(b))', { stdin: '20\n22\n' })).observation).to.equal(
      '42',
    );
    expect((await run('try:\n    input()\nexcept EOFError:\n    print("eof")')).observation).to.equal('eof');
    expect((await run("open('a.txt', 'w').write('x' * 1000)\nprint(len(open('a.txt').read()))")).observation).to.equal(
      '1000',
    );
    expect((await run("import os\nprint(os.path.exists('a.txt'))")).observation).to.equal('False');
    const fr = await run(
      'from fractions import Fraction\nimport math, itertools, statistics, decimal\nprint(Fraction(1, 3) + Fraction(1, 6), math.comb(10, 3), statistics.median([3, 1, 2]))',
    );
    expect(fr.observation).to.equal('1/2 120 2');
  });

  it("the embedded world's programs (recipes/math_tir_adpo.yaml) give their answers: every easy and hard problem", async () => {
    const problems = ['easy', 'hard'].flatMap((k) =>
      generateSplit(DEFAULT_SPLITS[k] as (typeof DEFAULT_SPLITS)[string]),
    );
    expect(problems.length).to.equal(400);
    // Each program in a call of its own costs a fresh interpreter (a fifth of a second or more): a few go
    // through the tool as the executor sends them, all 400 through one program that runs each apart.
    const wrong: string[] = [];
    for (const p of problems.slice(0, 8)) {
      const r = await run(pythonFor(p.expr));
      if (r.observation !== p.answer.toString()) wrong.push(`${p.expr} = ${p.answer}, got ${r.observation}`);
    }
    const all = await tool.sandbox.exec(
      [
        'import contextlib, io, json',
        `for src in json.loads(${JSON.stringify(JSON.stringify(problems.map((p) => pythonFor(p.expr))))}):`,
        '    out = io.StringIO()',
        '    with contextlib.redirect_stdout(out):',
        "        exec(compile(src, '<code>', 'exec'), {'__name__': '__main__'})",
        '    print(json.dumps(out.getvalue().rstrip()))',
      ].join('\n'),
    );
    const lines = all.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as string);
    expect(lines.length).to.equal(400);
    problems.forEach((p, i) => {
      if (lines[i] !== p.answer.toString()) wrong.push(`${p.expr} = ${p.answer}, got ${lines[i]}`);
    });
    expect(wrong).to.deep.equal([]);
  });

  it('every program starts from the same interpreter state, with its own random seed', async () => {
    const a = await run('import random, sys\nprint(len(sys.modules), random.random())');
    const b = await run('import random, sys\nprint(len(sys.modules), random.random())');
    const [modsA, randA] = a.observation.split(' ');
    const [modsB, randB] = b.observation.split(' ');
    expect(modsA).to.equal(modsB);
    expect(randA).to.not.equal(randB);
  });

  it('the interpreters programs used are given back: resident memory stays flat over many calls', async function () {
    if (process.platform !== 'linux') this.skip();
    const rssMb = () =>
      Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${tool.sandbox.pids[0] as number}/status`, 'utf8'))?.[1]) /
      1024;
    // Read while the worker is idle: by then it has made its next interpreter and collected the used ones.
    // An interpreter kept after its call holds about 60 MiB here; the readings vary by some 30 MiB.
    const idle = async () => {
      await new Promise((r) => setTimeout(r, 3000));
      return rssMb();
    };
    for (let i = 0; i < 5; i++) await run(`x = bytearray(${8 << 20})\nprint(${i})`);
    const before = await idle();
    for (let i = 0; i < 20; i++)
      expect((await run(`x = bytearray(${8 << 20})\nprint(${i})`)).observation).to.equal(String(i));
    const after = await idle();
    expect(after - before, `resident MiB ${before.toFixed(0)} -> ${after.toFixed(0)}`).to.be.below(100);
  });

  it('nothing a program changes reaches the next one: globals, imports, module attributes, sys settings', async () => {
    await run(
      'secret = 41\nimport math, sys, os, json\nmath.pi = 3\nsys.setrecursionlimit(50)\nos.environ["X"] = "1"\njson.dumps = None\nimport fractions\nfractions.Fraction = int',
    );
    const r = await run(
      'import math, sys, os, json\nfrom fractions import Fraction\nprint("secret" in globals(), math.pi, sys.getrecursionlimit(), "X" in os.environ, json.dumps([1]), Fraction(1, 2))',
    );
    expect(r.observation).to.equal('False 3.141592653589793 1000 False [1] 1/2');
  });

  // The attacks below are what a program that shares an interpreter with later programs can do: walk its
  // frames to the runner's globals and leave hooks there. Each program must get an interpreter of its own.
  it("a hook left in the runner by one program does not read the next program's source", async () => {
    const installed = await run(
      RUNNER_GLOBALS +
        [
          'if G is not None:',
          "    _orig, _stash = G['run_program'], G.setdefault('agent0_stash', [])",
          '    def _spy(code, glb, _orig=_orig, _stash=_stash):',
          '        _stash.append(code)',
          '        return _orig(code, glb)',
          "    G['run_program'] = _spy",
          "print('runner found' if G is not None else 'no runner')",
        ].join('\n'),
    );
    expect(installed.observation).to.equal('runner found');
    expect((await run("token = 'victim-source-7f3a'\nprint('victim ran')")).observation).to.equal('victim ran');
    const read = await run(RUNNER_GLOBALS + "print(repr(G.get('agent0_stash')) if G is not None else 'no runner')");
    expect(read.observation).to.not.include('victim-source-7f3a');
  });

  it("a hook left in the runner by one program does not forge the next program's output", async () => {
    await run(RUNNER_GLOBALS + "if G is not None:\n    G['run_program'] = lambda code, glb: (print('43'), 0)[1]");
    expect((await run('print(6 * 7)')).observation).to.equal('42');
  });

  it("tampering with builtins, modules, classes and the runner's records is not seen by the next program", async () => {
    await run(
      RUNNER_GLOBALS +
        [
          'import builtins, sys, collections',
          "builtins.print = lambda *a, **k: sys.stdout.write('forged print\\n')",
          "fake = type(sys)('math')",
          'fake.sqrt = fake.median = lambda x: 3',
          "sys.modules['math'] = fake",
          "collections.Counter.most_common = lambda self, n=None: 'forged counter'",
          'if G is not None:',
          "    for saved in [G.get('SAVED', {}).get('builtins')]:",
          '        if saved is not None:',
          "            saved['len'] = lambda x: 7",
          "    for base in [G.get('BASE_MODULES')]:",
          '        if base is not None:',
          "            base['statistics'] = fake",
        ].join('\n'),
    );
    const r = await run(
      "import math, collections, statistics\nprint(len([1, 2]), math.sqrt(16), collections.Counter('aab').most_common(1), statistics.median([1, 3]))",
    );
    expect(r.observation).to.equal("2 4.0 [('a', 2)] 2.0");
  });

  it("a stateful session can neither read nor change another session's variables", async () => {
    await tool.sandbox.exec("card = 'victim-card-9911'", { session: 'victim' });
    const spy = await tool.sandbox.exec(
      RUNNER_GLOBALS +
        [
          'import gc',
          'found = []',
          "for s in (G or {}).get('sessions', {}).values():",
          "    if 'card' in s['glb']:",
          "        found.append(s['glb']['card'])",
          "        s['glb']['card'] = 'forged'",
          'for o in gc.get_objects():',
          "    if type(o) is dict and o is not globals() and isinstance(o.get('card'), str) and o.get('card') != 'forged':",
          "        found.append(o['card'])",
          "        o['card'] = 'forged'",
          'print(found)',
        ].join('\n'),
      { session: 'attacker' },
    );
    expect(spy.status).to.equal('ok');
    expect(spy.stdout).to.not.include('victim-card-9911');
    expect((await tool.sandbox.exec('print(card)', { session: 'victim' })).stdout).to.equal('victim-card-9911\n');
    await tool.sandbox.endSession('victim');
    await tool.sandbox.endSession('attacker');
  });

  it('stateful sessions keep their variables, apart from each other', async () => {
    await tool.sandbox.exec('n = 5', { session: 'a' });
    await tool.sandbox.exec('n = 7', { session: 'b' });
    expect((await tool.sandbox.exec('print(n * 2)', { session: 'a' })).stdout).to.equal('10\n');
    expect((await tool.sandbox.exec('print(n * 2)', { session: 'b' })).stdout).to.equal('14\n');
    await tool.sandbox.endSession('a');
    await tool.sandbox.endSession('b');
  });

  it('past 16 live sessions on a worker the least recently used one is dropped and says its state was lost', async () => {
    for (let i = 0; i < 17; i++) {
      expect((await tool.sandbox.exec(`v = ${i}`, { session: `many-${i}` })).status).to.equal('ok');
      // many-0 is used again, so many-1 is the least recently used when the 17th session starts.
      if (i === 15) expect((await tool.sandbox.exec('print(v)', { session: 'many-0' })).stdout).to.equal('0\n');
    }
    expect((await tool.sandbox.exec('print(v)', { session: 'many-0' })).stdout).to.equal('0\n');
    const lost = await tool.sandbox.exec('print(v)', { session: 'many-1' });
    expect(lost).to.include({ status: 'error', sessionLost: true });
    expect((await tool.sandbox.exec('print(v)', { session: 'many-16' })).stdout).to.equal('16\n');
    for (let i = 0; i < 17; i++) await tool.sandbox.endSession(`many-${i}`);
  });

  it('a stateful call killed at its deadline says in its own reply that its state is gone, as do the sessions it took along', async () => {
    // one call at a time with every worker idle: both sessions start on the first worker
    await tool.sandbox.exec('kept = 1', { session: 'bystander' });
    const killed = await tool.sandbox.exec('x = 1\nwhile True:\n    pass', { session: 'looping' });
    expect(killed).to.include({ status: 'timeout', sessionLost: true });
    // the restart ended every session of the child (docs/sandbox.md); each says so at its next call
    expect(await tool.sandbox.exec('print(kept)', { session: 'bystander' })).to.include({ sessionLost: true });
    expect((await tool.sandbox.exec('print(7)', { session: 'looping' })).stdout).to.equal('7\n');
    for (const s of ['bystander', 'looping']) await tool.sandbox.endSession(s);
  });

  it('maxSessions sets that cap (2 here): a third session ends the least recently used one', async () => {
    const limits = { maxSessions: 2 };
    await tool.sandbox.exec('v = 1', { session: 'cap-a', limits });
    await tool.sandbox.exec('v = 2', { session: 'cap-b', limits });
    await tool.sandbox.exec('v = 3', { session: 'cap-c', limits });
    expect(await tool.sandbox.exec('print(v)', { session: 'cap-a', limits })).to.include({ sessionLost: true });
    expect((await tool.sandbox.exec('print(v)', { session: 'cap-c', limits })).stdout).to.equal('3\n');
    for (const s of ['cap-a', 'cap-b', 'cap-c']) await tool.sandbox.endSession(s);
  });

  it('the memory cap: a huge allocation and a growing list raise MemoryError, and the worker goes on', async () => {
    const big = await run('a = bytearray(400 * 1024 * 1024)\nprint(len(a))');
    expect(big.observation).to.match(/MemoryError/);
    const grow = await run('x = []\nwhile True:\n    x.append(bytearray(1024 * 1024))');
    expect(grow.observation).to.match(/MemoryError/);
    expect((await run('print(6 * 7)')).observation).to.equal('42');
  });

  it('an infinite loop and an output flood are stopped; the next call gets a fresh interpreter', async () => {
    const loop = await run('print("started", flush=True)\nwhile True:\n    pass');
    expect(loop.info).to.include({ status: 'timeout' });
    expect(loop.observation).to.match(/^started\n.*TimeoutError/s);
    expect((await run('print(6 * 7)')).observation).to.equal('42');
    const flood = await tool.sandbox.exec('while True:\n    print("y" * 1000)');
    expect(flood).to.include({ status: 'killed', truncated: true });
    expect(flood.reason).to.match(/output limit of 100000 bytes/);
    expect(flood.stdout.length).to.be.at.most(100_000);
    expect((await run('print(6 * 7)')).observation).to.equal('42');
  });

  it('files in the in-memory filesystem count against the memory cap: the child is killed, not the host', async function () {
    if (process.platform !== 'linux') this.skip();
    // Many files, not one growing file: the in-memory filesystem copies a file's storage as it grows.
    const r = await run(
      "for i in range(40):\n    open('f%d' % i, 'wb').write(bytes(32 * 1024 * 1024))\nprint('wrote')",
    );
    expect(r.observation).to.not.match(/^wrote$/m);
    expect(r.info).to.include({ status: 'killed', reason: 'memory limit exceeded' });
    expect((await run('print(6 * 7)')).observation).to.equal('42');
  });

  it('host files are out of reach: a secret in a temp dir and in a home directory, through Python, NODEFS and mountNodeFS', async () => {
    const secret = path.join(dir, 'secret.txt');
    const home = path.join(dir, 'home', 'user', '.ssh');
    mkdirSync(home, { recursive: true });
    writeFileSync(secret, 'sk-wasm-secret');
    writeFileSync(path.join(home, 'id_rsa'), 'sk-wasm-key');
    const r = await run(
      [
        'import os',
        `for p in [${JSON.stringify(secret)}, ${JSON.stringify(path.join(home, 'id_rsa'))}, ${JSON.stringify(path.resolve('package.json'))}, '/etc/passwd', ${JSON.stringify(os.homedir())}]:`,
        '    print(p, os.path.exists(p))',
        'print(sorted(os.listdir("/")))',
      ].join('\n'),
    );
    expect(
      r.observation
        .split('\n')
        .slice(0, 5)
        .every((l) => l.endsWith(' False')),
    ).to.equal(true);
    const js = await run(
      GUARD_OFF +
        [
          'for name, f in [',
          `    ('mountNodeFS', lambda: pj.mountNodeFS('/mnt', ${JSON.stringify(dir)})),`,
          `    ('NODEFS', lambda: (pj.FS.mkdir('/m2'), pj.FS.mount(pj.FS.filesystems.NODEFS, __import__('pyodide.ffi').ffi.to_js({'root': ${JSON.stringify(dir)}}), '/m2'), pj.FS.readdir('/m2'))),`,
          ']:',
          '    try:',
          '        print(name, f())',
          '    except Exception as e:',
          '        print(name, "refused", type(e).__name__)',
        ].join('\n'),
    );
    expect(js.observation).to.equal('mountNodeFS refused JsException\nNODEFS refused JsException');
    expect(js.observation).to.not.include('sk-wasm');
  });

  it('writes never reach the host: Python files and the JS filesystem stay in memory', async () => {
    const target = path.join(dir, `escape-${process.pid}`);
    const r = await run(
      GUARD_OFF +
        [
          'import os',
          `os.makedirs(${JSON.stringify(dir)}, exist_ok=True)`,
          `open(${JSON.stringify(target)}, 'w').write('x')`,
          `pj.FS.writeFile(${JSON.stringify(target + '-js')}, 'y')`,
          `print(open(${JSON.stringify(target)}).read(), os.path.exists(${JSON.stringify(target + '-js')}))`,
        ].join('\n'),
    );
    expect(r.observation).to.equal('x True');
    expect(existsSync(target)).to.equal(false);
    expect(existsSync(`${target}-js`)).to.equal(false);
  });

  it('no network: Python sockets, urllib, loadPackage from a URL, fetch and Node modules through JS; the server sees nothing', async () => {
    const t = await trap();
    const url = `http://127.0.0.1:${t.port}`;
    try {
      const r = await run(
        GUARD_OFF +
          [
            'import js, socket, urllib.request',
            'def attempt(name, f):',
            '    try:',
            '        print(name, "->", repr(f())[:60])',
            '    except BaseException as e:',
            '        print(name, "refused", type(e).__name__)',
            `attempt('socket', lambda: socket.create_connection(('127.0.0.1', ${t.port}), timeout=1))`,
            `attempt('urllib', lambda: urllib.request.urlopen(${JSON.stringify(url)}, timeout=1).read())`,
            "attempt('js globals', lambda: [k for k in ('fetch', 'process', 'require', 'WebSocket', 'XMLHttpRequest') if hasattr(js, k)] or None)",
            "attempt('Function from a string', lambda: pj.runPython.constructor('return globalThis.process')())",
            "attempt('async Function', lambda: pj.runPythonAsync.constructor('return import(\"node:net\")')())",
            "attempt('run_js', lambda: __import__('pyodide.code').code.run_js('1 + 1'))",
            `attempt('loadPackage', lambda: pj.loadPackage(${JSON.stringify(`${url}/x-1.0-py3-none-any.whl`)}))`,
            "attempt('loadPackage numpy', lambda: pj.loadPackage('numpy'))",
            `attempt('pyfetch', lambda: __import__('pyodide.http').http.pyfetch(${JSON.stringify(url)}))`,
            "attempt('registerJsModule', lambda: pj.registerJsModule('net', pj.constructor.constructor('return 1')))",
          ].join('\n'),
      );
      const lines = r.observation.split('\n');
      for (const name of [
        'socket',
        'urllib',
        'Function from a string',
        'async Function',
        'run_js',
        'registerJsModule',
      ]) {
        expect(
          lines.find((l) => l.startsWith(`${name} `)),
          name,
        ).to.match(/ refused /);
      }
      expect(lines.find((l) => l.startsWith('js globals '))).to.equal('js globals -> None');
      expect(r.observation).to.match(/Function from a string refused JsException/);
      // loadPackage answers with a future that can never complete (no network, no timers): give it time.
      await new Promise((res) => setTimeout(res, 500));
      expect(t.hits(), 'connections the server saw').to.equal(0);
    } finally {
      await t.close();
    }
  });

  it('the Node child: no file, child process or code generation from strings; its own network namespace and uid nobody where the machine allows', async () => {
    const hello = (tool.sandbox as unknown as { workers: { hello?: Record<string, unknown> }[] }).workers[0]?.hello;
    expect(hello?.layers).to.deep.equal({
      strict: true,
      fsDenied: true,
      codegenDenied: true,
      frozenIntrinsics: true,
      childDenied: true,
      contextCodegenDenied: true,
    });
    const pid = tool.sandbox.pids[0] as number;
    const launch = wasmLaunch();
    if (process.platform === 'linux' && launch.wrap.length > 0) {
      expect(readlinkSync(`/proc/${pid}/ns/net`)).to.not.equal(readlinkSync('/proc/self/ns/net'));
    }
    if (process.getuid?.() === 0 && launch.uid !== undefined) {
      expect(readFileSync(`/proc/${pid}/status`, 'utf8')).to.match(/^Uid:\s+65534\s/m);
    }
    expect(readFileSync(`/proc/${pid}/environ`, 'utf8')).to.not.match(/AGENT0|NODE_OPTIONS|HOME=/);
    expect(tool.describe()).to.include({ isolation: 'wasm' });
  });
});
