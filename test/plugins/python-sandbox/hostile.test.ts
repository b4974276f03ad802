// test/setup.ts waits for a tfjs backend; importing the tfjs bundle registers the cpu one.
import '@tensorflow/tfjs';
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { PythonTool } from '../../../plugins/python-sandbox/tool.js';
import { descendants, isolationVariants, makeTool, trees } from './helpers.js';

function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

const SECRET = `sk-agent0-test-${process.pid}-do-not-leak`;
process.env.AGENT0_SANDBOX_TEST_SECRET = SECRET;

const isRoot = process.getuid?.() === 0;
const variants = isolationVariants();

for (const v of variants) {
  describe(`python sandbox vs hostile programs: ${v.label}`, function () {
    this.timeout(30_000);
    let tool: PythonTool;
    let baseline: string;

    before(async () => {
      tool = await makeTool({ isolation: v.isolation, userNamespace: v.userNamespace, timeoutSeconds: 1 });
      await tool.conductAction('warm', 'pass');
      baseline = trees(tool);
    });
    after(async () => {
      await tool?.dispose();
    });

    /** The hostile program left nothing running and the next call works. */
    async function recovered(): Promise<void> {
      expect(trees(tool), 'process tree after the call').to.equal(baseline);
      const r = await tool.conductAction('next', 'print(6 * 7)');
      expect(r.observation).to.equal('42');
      expect(r.info?.status).to.equal('ok');
    }

    it('reports the isolation mode it runs in', () => {
      expect(tool.sandbox.info.mode === 'none').to.equal(!v.isolated);
    });

    it('ordinary programs still work under the limits: multiprocessing, numpy, files, stdin-less input()', async () => {
      const code = [
        'import multiprocessing as mp, numpy as np',
        'with mp.Pool(2) as p:',
        '    print(p.map(abs, [-1, -2, 3]))',
        'print(int(np.linalg.det(np.array([[2, 1], [1, 3]])).round()))',
        "open('a.txt', 'w').write('x' * 1000)",
        "print(len(open('a.txt').read()))",
        'try:',
        '    input()',
        'except EOFError:',
        "    print('no stdin')",
      ].join('\n');
      const r = await tool.conductAction('t', code);
      expect(r.observation).to.equal('[1, 2, 3]\n5\n1000\nno stdin');
      await recovered();
    });

    it('infinite loop: stopped by the CPU limit or the wall clock', async () => {
      const r = await tool.conductAction('t', 'while True:\n    pass');
      expect(r.valid).to.equal(true);
      expect(['killed', 'timeout']).to.include(r.info?.status);
      expect(r.observation).to.match(/Killed: CPU time limit exceeded|TimeoutError: the program ran longer than 1 s/);
      await recovered();
    });

    it('sleeping past the timeout: killed at the wall-clock limit', async () => {
      const t0 = performance.now();
      const r = await tool.conductAction('t', "import time\nprint('going to sleep', flush=True)\ntime.sleep(60)");
      expect(performance.now() - t0).to.be.within(950, 3500);
      expect(r.info?.status).to.equal('timeout');
      expect(r.observation).to.equal('going to sleep\nTimeoutError: the program ran longer than 1 s and was killed');
      await recovered();
    });

    it('fork bomb (children escaping into new sessions): capped by RLIMIT_NPROC, every child killed', async () => {
      const code = [
        'import os, time',
        'n = 0',
        'try:',
        '    while True:',
        '        if os.fork() == 0:',
        '            os.setsid()',
        '            time.sleep(100)',
        '            os._exit(0)',
        '        n += 1',
        'except OSError as e:',
        "    print('fork refused after', n, type(e).__name__)",
      ].join('\n');
      const r = await tool.conductAction('t', code);
      const m = /^fork refused after (\d+) BlockingIOError$/.exec(r.observation);
      expect(m, r.observation).to.not.equal(null);
      // The count includes the uid's other processes, so it is at most the limit, not exactly it.
      expect(Number(m![1])).to.be.at.most(32);
      await recovered();
    });

    it('fork bomb that never stops forking: the whole tree dies at the timeout', async () => {
      const r = await tool.conductAction(
        't',
        'import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass',
      );
      expect(['killed', 'timeout']).to.include(r.info?.status);
      await recovered();
    });

    it('memory bomb: one huge allocation and a growing list both raise MemoryError', async () => {
      const a = await tool.conductAction('t', 'x = bytearray(8 * 1024 ** 3)');
      expect(a.observation).to.match(/MemoryError$/);
      expect(a.info?.status).to.equal('error');
      // The growing list touches every page it gets: under a small RLIMIT_AS it reaches the limit
      // long before the wall clock on a slow machine (touching 512 MiB takes ~1.5 s on 2 shared cores).
      const small = await makeTool({
        isolation: v.isolation,
        userNamespace: v.userNamespace,
        timeoutSeconds: 10,
        cpuSeconds: 10,
        memoryMb: 160,
      });
      try {
        const b = await small.conductAction('t', 'a = []\nwhile True:\n    a.append(bytearray(10 ** 7))');
        expect(b.observation).to.match(/MemoryError$/);
        expect(b.info?.status).to.equal('error');
        expect((await small.conductAction('t', 'print(6 * 7)')).observation).to.equal('42');
      } finally {
        await small.dispose();
      }
      await recovered();
    });

    it('output flood: killed at the output cap, the observation stays capped', async () => {
      const r = await tool.conductAction('t', "while True:\n    print('y' * 1000)");
      expect(r.info?.status).to.equal('killed');
      // 200000 bytes captured, the head of it shown, then how much was cut and why it was stopped.
      expect(r.observation).to.match(
        /^y{1000}\ny{900,1000}\n\.\.\. \(19\d{4} more characters\)\nKilled: output limit of 200000 bytes exceeded$/,
      );
      expect(r.observation.length).to.be.at.most(2000 + 200);
      await recovered();
    });

    it('file size and open-file limits: a big file is stopped, descriptors run out', async () => {
      const big = await tool.conductAction(
        't',
        "with open('big.bin', 'wb') as f:\n    for _ in range(40):\n        f.write(b'0' * 1024 * 1024)\nprint('wrote 40 MiB')",
      );
      expect(big.observation).to.not.include('wrote 40 MiB');
      expect(big.observation).to.match(/Killed: file size limit exceeded|File too large/);
      const fds = await tool.conductAction(
        't',
        "fs = []\ntry:\n    for i in range(1000):\n        fs.append(open('f%d' % i, 'w'))\nexcept OSError as e:\n    print(len(fs), e.strerror)",
      );
      const m = /^(\d+) Too many open files$/.exec(fds.observation);
      expect(m, fds.observation).to.not.equal(null);
      expect(Number(m![1])).to.be.within(50, 64);
      await recovered();
    });

    // Without namespaces, only uid nobody (workers started as root) keeps other processes' environ unreadable.
    const procHidden = v.isolated || isRoot;
    it(`no secret of the parent environment is visible (os.environ${procHidden ? ', /proc/*/environ' : ''})`, async () => {
      const code = procHidden
        ? [
            'import os',
            'print(dict(os.environ))',
            'for p in os.listdir("/proc"):',
            '    if p.isdigit():',
            '        try:',
            '            print(p, open("/proc/%s/environ" % p, "rb").read())',
            '        except OSError as e:',
            '            print(p, type(e).__name__)',
          ].join('\n')
        : 'import os\nprint(dict(os.environ))';
      const r = await tool.conductAction('t', code);
      expect(r.info?.status).to.equal('ok');
      expect(r.observation).to.include("'PATH'");
      expect(r.observation).to.not.include(SECRET);
      expect(r.observation).to.not.include('AGENT0_SANDBOX_TEST_SECRET');
      await recovered();
    });

    it('the scratch dir is writable and private to the call', async () => {
      const a = await tool.conductAction('t', "open('notes.txt', 'w').write('hi')\nprint(open('notes.txt').read())");
      expect(a.observation).to.equal('hi');
      const b = await tool.conductAction(
        't',
        "import os\nprint(os.path.exists('notes.txt'), sorted(os.listdir('..')) == [os.path.basename(os.getcwd())])",
      );
      expect(b.observation).to.equal('False True');
      await recovered();
    });

    it(`killing its own worker (or everything it may signal): ${v.isolated ? 'ignored, the worker is pid 1 of its namespace' : 'a sandbox error, then a fresh worker'}`, async () => {
      // kill(-1) only where a pid namespace confines it: without one it would hit every process of uid nobody.
      const codes = [
        'import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint("still here")',
        ...(v.isolated
          ? [
              'import os, signal\nos.kill(os.getppid(), signal.SIGINT)\nprint("still here")',
              'import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept ProcessLookupError:\n    pass  # nothing it may signal but itself and pid 1, which both are exempt\nprint("still here")',
            ]
          : []),
      ];
      for (const code of codes) {
        const old = tool.sandbox.pids[0] as number;
        const oldTree = [old, ...descendants(old)];
        const r = await tool.conductAction('t', code);
        const next = await tool.conductAction('next', 'print(6 * 7)');
        expect(next.observation).to.equal('42');
        if (v.isolated) {
          expect(r).to.deep.include({ valid: true, observation: 'still here' });
          expect(tool.sandbox.pids[0]).to.equal(old);
          continue;
        }
        expect(r).to.deep.include({ valid: false, done: false });
        expect(r.observation).to.match(/^sandbox error: Python worker exited/);
        expect(tool.sandbox.pids[0]).to.not.equal(old);
        expect(oldTree.filter((p) => existsSync(`/proc/${p}`) && !isZombie(p))).to.deep.equal([]);
      }
      baseline = trees(tool);
    });

    if (!v.isolated) return;

    it('a connection to a listener on 127.0.0.1 fails (no network)', async () => {
      let accepted = 0;
      const server = net.createServer((s) => {
        accepted++;
        s.end('hello');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as net.AddressInfo).port;
      try {
        const r = await tool.conductAction(
          't',
          `import socket\ns = socket.create_connection(('127.0.0.1', ${port}), timeout=1)\nprint('connected', s.recv(10))`,
        );
        expect(r.observation).to.not.include('connected');
        expect(r.observation).to.match(/ConnectionRefusedError|OSError|Network is unreachable/);
        const dns = await tool.conductAction(
          't',
          "import socket\nprint(socket.getaddrinfo('registry.npmjs.org', 443))",
        );
        expect(dns.observation).to.match(/gaierror|Errno/);
        expect(accepted).to.equal(0);
      } finally {
        server.close();
      }
      await recovered();
    });

    it('writes outside the scratch dir fail and never reach the host', async () => {
      const targets = [
        path.join(os.tmpdir(), `agent0-escape-${process.pid}`),
        path.resolve(`agent0-escape-${process.pid}`),
        '/escape',
        '/dev/escape',
        '/usr/escape',
      ];
      for (const t of targets) {
        const r = await tool.conductAction('t', `open(${JSON.stringify(t)}, 'w').write('x')\nprint('wrote')`);
        expect(r.observation, t).to.match(
          /(FileNotFoundError|OSError|PermissionError).*(No such file|Read-only|Permission denied)/,
        );
        expect(existsSync(t), `${t} on the host`).to.equal(false);
      }
      await recovered();
    });

    it("the project's files and the home directory are not visible", async () => {
      const project = path.resolve('package.json');
      expect(existsSync(project)).to.equal(true);
      const r = await tool.conductAction(
        't',
        `import os\nfor p in [${JSON.stringify(project)}, ${JSON.stringify(os.homedir())}, '/etc/passwd', '/etc/shadow']:\n    print(p, os.path.exists(p))`,
      );
      expect(r.observation).to.equal(
        [project, os.homedir(), '/etc/passwd', '/etc/shadow'].map((p) => `${p} False`).join('\n'),
      );
      const s = await tool.conductAction('t', `print(open(${JSON.stringify(project)}).read())`);
      expect(s.observation).to.match(/FileNotFoundError/);
      await recovered();
    });
  });
}
