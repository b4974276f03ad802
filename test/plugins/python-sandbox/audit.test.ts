// test/setup.ts waits for a tfjs backend; importing the tfjs bundle registers the cpu one.
import '@tensorflow/tfjs';
import { expect } from 'chai';
import { SESSION_LOST_NOTE, type PythonTool, type PythonToolOptions } from '../../../plugins/python-sandbox/tool.js';
import { descendants, isolationVariants, makeTool } from './helpers.js';

// Issue 15 audit, items 1-3: attacks beyond escape.test.ts. The first block held when the audit ran;
// the second holds the holes the audit found in plugins/python-sandbox (each failed until its fix).

const knownArch = ['x64', 'arm64'].includes(process.arch);

const PRELUDE = [
  'import ctypes, errno, os, signal, time',
  'libc = ctypes.CDLL(None, use_errno=True)',
  'libc.syscall.restype = ctypes.c_long',
  'L = ctypes.c_long',
  'def err():',
  '    return errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))',
  // x86_64 / aarch64 numbers: kcmp, io_uring_setup, bpf, userfaultfd, keyctl, perf_event_open, setns, move_pages,
  // get_robust_list.
  "NR = {'x86_64': dict(kcmp=312, io_uring_setup=425, bpf=321, userfaultfd=323, keyctl=250, perf_event_open=298, setns=308, move_pages=279, get_robust_list=274),",
  "      'aarch64': dict(kcmp=272, io_uring_setup=425, bpf=280, userfaultfd=282, keyctl=219, perf_event_open=241, setns=268, move_pages=239, get_robust_list=100)}[os.uname().machine]",
].join('\n');

/** The worker's /proc files, its memory opened for writing, and kernel interfaces the escape tests do not name. */
const PROC_AND_KERNEL = `${PRELUDE}
w = os.getppid()
out = []
for f in ['mem', 'environ', 'maps', 'fd', 'fdinfo', 'syscall', 'stack', 'pagemap', 'auxv']:
    try:
        os.listdir('/proc/%d/%s' % (w, f)) if f in ('fd', 'fdinfo') else open('/proc/%d/%s' % (w, f), 'rb').read(64)
        out.append(f + ' read')
    except OSError as e:
        out.append(f + ' ' + errno.errorcode[e.errno])
try:
    os.open('/proc/%d/mem' % w, os.O_RDWR)
    out.append('mem rw opened')
except OSError as e:
    out.append('mem rw ' + errno.errorcode[e.errno])
print(' '.join(out))
if os.uname().machine == 'x86_64':
    # the x32 ABI's ptrace: same kernel code under another number
    print('x32 ptrace', 'ok' if libc.syscall(L(0x40000000 + 521), L(16), L(w), L(0), L(0)) >= 0 else err())
params = ctypes.create_string_buffer(120)
calls = [('kcmp', (os.getpid(), w, 0, 0, 1)), ('io_uring_setup', (8, ctypes.addressof(params))), ('bpf', (0, 0, 0)), ('userfaultfd', (0,)),
         ('keyctl', (0, 0)), ('perf_event_open', (0, 0, -1, -1, 0)), ('setns', (os.open('/proc/self/ns/net', os.O_RDONLY), 0)),
         ('move_pages', (w, 0, 0, 0, 0, 0)), ('get_robust_list', (w, ctypes.addressof(ctypes.c_void_p()), ctypes.addressof(ctypes.c_size_t())))]
print(' '.join('%s %s' % (n, 'ok' if libc.syscall(L(NR[n]), *[L(x) for x in a]) >= 0 else err()) for n, a in calls))
`;

const SIGNAL_WORKER = `${PRELUDE}
w = os.getppid()
for s in [signal.SIGSTOP, signal.SIGTERM, signal.SIGKILL, signal.SIGSEGV, signal.SIGUSR1, signal.SIGHUP, signal.SIGCHLD, signal.SIGPIPE]:
    os.kill(w, s)
time.sleep(0.2)
print(open('/proc/%d/status' % w).read().split('State:')[1].split()[0])
`;

/** Left running by one trajectory's session: reads (and swaps) every stdin file other sessions get. */
const STDIN_SPY = `import os, threading, time
seen = []
def spy():
    while True:
        for d in os.listdir('/scratch'):
            p = '/scratch/' + d + '/.stdin'
            try:
                s = open(p).read()
                if s != 'FORGED\\n':
                    seen.append(s.strip())
                    with open(p + '.x', 'w') as f:
                        f.write('FORGED\\n')
                    os.replace(p + '.x', p)
            except OSError:
                pass
        time.sleep(0.0002)
threading.Thread(target=spy, daemon=True).start()
print('spying')
`;

/** Left running by one session: writes into the stdout of any process whose command line names a victim. */
const SUBPROCESS_SPY = `import os, threading, time
def spy():
    done = set()
    while True:
        for p in os.listdir('/proc'):
            if not p.isdigit() or p in done or int(p) == os.getpid():
                continue
            try:
                if b'victim' in open('/proc/%s/cmdline' % p, 'rb').read():
                    fd = os.open('/proc/%s/fd/1' % p, os.O_WRONLY)
                    os.write(fd, b'FORGED\\n')
                    os.close(fd)
                    done.add(p)
            except OSError:
                pass
        time.sleep(0.001)
threading.Thread(target=spy, daemon=True).start()
print('spying')
`;

const POSIX_MQ_STORE = `import ctypes, os
rt = ctypes.CDLL('librt.so.1', use_errno=True)
q = rt.mq_open(b'/agent0-audit', os.O_CREAT | os.O_RDWR, 0o600, None)
print('stored', q >= 0 and rt.mq_send(q, b'mq-secret', 9, 0) == 0)
`;

const POSIX_MQ_LOOK = `import ctypes, errno, os
rt = ctypes.CDLL('librt.so.1', use_errno=True)
q = rt.mq_open(b'/agent0-audit', os.O_RDWR | os.O_NONBLOCK)
if q < 0:
    print('gone', errno.errorcode.get(ctypes.get_errno()))
else:
    buf = ctypes.create_string_buffer(8192)
    n = rt.mq_receive(q, buf, 8192, None)
    print('read', buf.raw[:max(n, 0)].decode())
`;

/** Memory past RLIMIT_AS: four forked children of 64 MiB each, then 128 MiB in memfd files (no mapping). */
const MEMORY_PAST_RLIMIT = `import os, time
kids = []
for i in range(4):
    r, w = os.pipe()
    if os.fork() == 0:
        try:
            b = bytearray(64 << 20)
            for j in range(0, len(b), 4096):
                b[j] = 1
            os.write(w, b'1')
        except MemoryError:
            os.write(w, b'0')
        time.sleep(30)
        os._exit(0)
    kids.append(r)
held = sum(int(os.read(r, 1) or b'0') for r in kids) * 64
print('forks', held, flush=True)
fds, n = [], 0
try:
    for i in range(8):
        fds.append(os.memfd_create('x'))
        for k in range(16):
            os.write(fds[-1], b'1' * (1 << 20))
            n += 1
except OSError:
    pass
print('memfd', n, flush=True)
`;

/** SysV segments attached, filled and detached again: their pages then belong to no process. */
const SYSV_SHM_PAST_CAP = `import ctypes, time
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
held = 0
for i in range(4):
    sid = libc.shmget(0, 48 << 20, 0o1600)
    a = libc.shmat(sid, None, 0)
    ctypes.memset(a, 1, 48 << 20)
    libc.shmdt(ctypes.c_void_p(a))
    held += 48
    print('held', held, flush=True)
    time.sleep(0.1)
time.sleep(1)
print('kept', held)
`;

/** Resumes every process it can see, as a program of an attacker's second trajectory would. */
const RESUME_ALL = `import os, signal
n = 0
for p in os.listdir('/proc'):
    if p.isdigit() and int(p) != os.getpid():
        try:
            os.kill(int(p), signal.SIGCONT)
            n += 1
        except OSError:
            pass
print('resumed' if n else 'none')
`;

/** Eight forked children that each build a little and report: an ordinary multiprocess program. */
const EIGHT_FORKS = `import os
total = 0
for i in range(8):
    r, w = os.pipe()
    if os.fork() == 0:
        os.write(w, str(sum(len(str(k)) for k in range(20000 * (i + 1)))).encode())
        os._exit(0)
    os.close(w)
    total += int(os.read(r, 32))
    os.wait()
print(total)
`;

for (const v of isolationVariants().filter((x) => x.isolated)) {
  describe(`python sandbox audit (issue 15): attacks that hold: ${v.label}`, function () {
    this.timeout(30_000);
    let tool: PythonTool;
    before(async function () {
      if (!knownArch) this.skip();
      tool = await makeTool({
        isolation: v.isolation,
        userNamespace: v.userNamespace,
        timeoutSeconds: 4,
        cpuSeconds: 4,
      });
    });
    after(async () => {
      await tool?.dispose();
    });

    it("the worker's /proc files, the x32 ABI and the rest of the kernel surface are closed to programs", async () => {
      const r = await tool.conductAction('t', PROC_AND_KERNEL);
      const lines = r.observation.split('\n');
      expect(lines[0]).to.equal(
        'mem EACCES environ EACCES maps EACCES fd EACCES fdinfo EACCES syscall EACCES stack EACCES pagemap EACCES auxv EACCES mem rw EACCES',
      );
      if (process.arch === 'x64') expect(lines[1]).to.equal('x32 ptrace ENOSYS');
      expect(lines[lines.length - 1]).to.equal(
        'kcmp EPERM io_uring_setup EPERM bpf EPERM userfaultfd EPERM keyctl EPERM perf_event_open EPERM setns EPERM move_pages EPERM get_robust_list EPERM',
      );
    });

    it('the worker ignores every signal a program sends it, SIGSTOP included', async () => {
      const pid = tool.sandbox.pids[0];
      expect((await tool.conductAction('t', SIGNAL_WORKER)).observation).to.equal('S');
      expect((await tool.conductAction('next', 'print(6 * 7)')).observation).to.equal('42');
      expect(tool.sandbox.pids[0]).to.equal(pid);
    });
  });

  // Holes found by the issue-15 audit (docs/sandbox.md, 'Audit (issue 15)') and closed after it.
  describe(`python sandbox audit (issue 15): holes the audit found, closed: ${v.label}`, function () {
    this.timeout(60_000);
    const stateful = { stateful: true, timeoutSeconds: 4, cpuSeconds: 4 };
    // math only: the default sympy and numpy preloads alone map more than 96 MiB into every fork.
    const capped = { preload: ['math'], memoryMb: 96, timeoutSeconds: 8, cpuSeconds: 8 };

    /** A tool of this variant for one test, disposed whatever the test does. */
    async function withTool(over: Partial<PythonToolOptions>, body: (tool: PythonTool) => Promise<void>) {
      const tool = await makeTool({ isolation: v.isolation, userNamespace: v.userNamespace, ...over });
      try {
        await body(tool);
      } finally {
        await tool.dispose();
      }
    }

    beforeEach(function () {
      if (!knownArch) this.skip();
    });

    it("a stateful session's leftover thread neither reads nor replaces another trajectory's stdin", () =>
      withTool(stateful, async (tool) => {
        expect((await tool.conductAction('attacker', STDIN_SPY)).observation).to.equal('spying');
        const got: string[] = [];
        for (let i = 0; i < 4; i++)
          got.push((await tool.conductAction(`victim-${i}`, 'print(input())', { stdin: `secret-${i}\n` })).observation);
        const seen = (await tool.conductAction('attacker', 'print(seen)')).observation;
        expect({ got, seen }).to.deep.equal({ got: ['secret-0', 'secret-1', 'secret-2', 'secret-3'], seen: '[]' });
      }));

    it("a stateful session's leftover thread cannot write into another trajectory's subprocess output", () =>
      withTool(stateful, async (tool) => {
        expect((await tool.conductAction('attacker', SUBPROCESS_SPY)).observation).to.equal('spying');
        const victim =
          "import subprocess\nprint(subprocess.run(['sh', '-c', 'sleep 0.5; echo victim-result'], capture_output=True, text=True).stdout.strip())";
        expect((await tool.conductAction('victim', victim)).observation).to.equal('victim-result');
      }));

    it('POSIX message queues cannot carry anything to the next program (mq_open is refused)', () =>
      withTool({}, async (tool) => {
        expect((await tool.conductAction('a', POSIX_MQ_STORE)).observation).to.equal('stored False');
        expect((await tool.conductAction('b', POSIX_MQ_LOOK)).observation).to.equal('gone EPERM');
      }));

    it('memoryMb bounds what one program holds across its processes and memfd files, not only per process', () =>
      withTool(capped, async (tool) => {
        const r = await tool.conductAction('t', MEMORY_PAST_RLIMIT);
        // A fix may stop the program (killed) or make its allocations fail; either way at most 96 MiB.
        const held = [...r.observation.matchAll(/^(forks|memfd) (\d+)$/gm)].reduce((s, m) => s + Number(m[2]), 0);
        expect(held, r.observation).to.be.at.most(96);
      }));

    it('SysV shared memory a program detached still counts against memoryMb', () =>
      withTool(capped, async (tool) => {
        const r = await tool.conductAction('t', SYSV_SHM_PAST_CAP);
        expect(r.observation).to.match(/Killed: memory limit of 96 MiB exceeded/);
        expect(r.observation).not.to.match(/held (144|192)|kept/);
        // The next program starts with nothing left over and runs normally.
        expect((await tool.conductAction('u', 'print(6 * 7)')).observation).to.equal('42');
      }));

    it('a session another program resumed with SIGCONT is stopped again before the next trajectory runs', () =>
      withTool(stateful, async (tool) => {
        expect((await tool.conductAction('attacker', STDIN_SPY)).observation).to.equal('spying');
        expect((await tool.conductAction('accomplice', RESUME_ALL)).observation).to.equal('resumed');
        const got = (await tool.conductAction('victim', 'print(input())', { stdin: 'secret\n' })).observation;
        const seen = (await tool.conductAction('attacker', 'print(seen)')).observation;
        expect({ got, seen }).to.deep.equal({ got: 'secret', seen: '[]' });
      }));

    it('maxSessions: past the cap the least recently used session ends and its next call says so', () =>
      withTool({ stateful: true, maxSessions: 2 }, async (tool) => {
        await tool.conductAction('a', 'x = 1');
        await tool.conductAction('b', 'x = 2');
        const worker = tool.sandbox.pids[0] as number;
        const withTwo = descendants(worker).length;
        expect((await tool.conductAction('a', 'print(x)')).observation).to.equal('1');
        await tool.conductAction('c', 'x = 3'); // b is the least recently used: it goes
        expect(descendants(worker).length).to.equal(withTwo);
        expect((await tool.conductAction('a', 'print(x)')).observation).to.equal('1');
        const b = (await tool.conductAction('b', 'print(x)')).observation;
        expect(b).to.match(/NameError: name 'x' is not defined/);
        expect(b).to.contain(SESSION_LOST_NOTE);
      }));

    it('the tree-wide memory count leaves an ordinary multiprocess program alone (default preloads and cap)', () =>
      withTool({ memoryMb: 1024, timeoutSeconds: 20, cpuSeconds: 20 }, async (tool) => {
        expect((await tool.conductAction('t', EIGHT_FORKS)).observation).to.equal('3631120');
      }));
  });
}
