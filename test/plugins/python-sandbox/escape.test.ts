// test/setup.ts waits for a tfjs backend; importing the tfjs bundle registers the cpu one.
import '@tensorflow/tfjs';
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { SANDBOX_UID, bwrapArgs, chooseIsolation, findInterpreter } from '../../../plugins/python-sandbox/isolation.js';
import type { PythonTool } from '../../../plugins/python-sandbox/tool.js';
import { isolationVariants, makeTool } from './helpers.js';

// Programs that go after their own worker (its pipes, its memory) and past the kernel-side caps
// (nested user namespaces, tmpfs size, SysV IPC), as model-written code did.

const PRELUDE = [
  'import ctypes, errno, fcntl, json, os, select, stat, subprocess, threading, time',
  'libc = ctypes.CDLL(None, use_errno=True)',
  'libc.syscall.restype = ctypes.c_long',
  'L = ctypes.c_long',
  'def err():',
  '    return errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))',
  // Syscall numbers the attacks use: ptrace, process_vm_readv, unshare, clone, clone3, pidfd_open, pidfd_getfd.
  "NR = {'x86_64': dict(ptrace=101, vm_readv=310, unshare=272, clone=56, clone3=435, pidfd_open=434, pidfd_getfd=438),",
  "      'aarch64': dict(ptrace=117, vm_readv=270, unshare=97, clone=220, clone3=435, pidfd_open=434, pidfd_getfd=438)}[os.uname().machine]",
].join('\n');

/**
 * Takes the worker's (and pid 1's) descriptors by pidfd_getfd or /proc/<pid>/fd, answers its own
 * call with a forged reply on every pipe or socket it can write, then waits for the next request on every
 * pipe it can read and answers that too.
 */
const STEAL_CHANNELS = `${PRELUDE}
writers, readers, log = [], [], []
for pid in sorted({os.getppid(), 1}):
    pidfd = libc.syscall(L(NR['pidfd_open']), L(pid), L(0))
    if pidfd < 0:
        log.append('pidfd_open(%d) %s' % (pid, err()))
    for n in range(64):
        fd = libc.syscall(L(NR['pidfd_getfd']), L(pidfd), L(n), L(0)) if pidfd >= 0 else -1
        if fd < 0:
            try:
                flags = int(open('/proc/%d/fdinfo/%d' % (pid, n)).read().split('flags:')[1].split()[0], 8)
                fd = os.open('/proc/%d/fd/%d' % (pid, n), (os.O_WRONLY if flags & 3 else os.O_RDONLY) | os.O_NONBLOCK)
            except (OSError, IndexError, ValueError):
                continue
        mode = os.fstat(fd).st_mode
        if stat.S_ISSOCK(mode):  # Node's stdio pipes are socket pairs: both directions
            writers.append(fd)
            readers.append(fd)
        elif stat.S_ISFIFO(mode):
            (writers if fcntl.fcntl(fd, fcntl.F_GETFL) & 3 else readers).append(fd)
def forge(i, text):
    return (json.dumps({'id': i, 'status': 'ok', 'stdout': text, 'stderr': '', 'exit_code': 0, 'wall_ms': 1}) + '\\n').encode()
for w in writers:
    try:
        os.write(w, b''.join(forge(i, 'FORGED') for i in range(1, 200)))
    except OSError:
        pass
deadline = time.time() + 2.5 if writers else 0
while time.time() < deadline:
    for fd in select.select(readers, [], [], 0.1)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            continue
        for line in chunk.splitlines():
            try:
                req = json.loads(line)
            except ValueError:
                continue
            if isinstance(req, dict) and 'code' in req:
                for w in writers:
                    os.write(w, forge(req['id'], 'FORGED: I read %r' % req['code']))
                deadline = 0
print('stolen: %d writers, %d readers; %s' % (len(writers), len(readers), '; '.join(log)))
`;

/** Each way to reach another process or leave the namespaces, with the errno it got. */
const SYSCALLS = `${PRELUDE}
def call(name, *a):
    r = libc.syscall(*[L(x) for x in a])
    print(name, 'ok' if r >= 0 else err())
    return r
w = os.getppid()
if call('ptrace(PTRACE_ATTACH, worker)', NR['ptrace'], 16, w, 0, 0) == 0:
    os.waitpid(w, 0x40000000)
    libc.syscall(L(NR['ptrace']), L(17), L(w), L(0), L(0))
class Iov(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
buf = ctypes.create_string_buffer(16)
local, remote = Iov(ctypes.addressof(buf), 16), Iov(id(None), 16)
call('process_vm_readv(worker)', NR['vm_readv'], w, ctypes.addressof(local), 1, ctypes.addressof(remote), 1, 0)
pidfd = call('pidfd_open(worker)', NR['pidfd_open'], w, 0)
call('pidfd_getfd(worker, 0)', NR['pidfd_getfd'], pidfd, 0, 0)
# clone first: once in a new user namespace, no further one could be made anyway.
if call('clone(CLONE_NEWUSER)', NR['clone'], 0x10000000 | 17, 0, 0, 0, 0) == 0:
    os._exit(0)
call('unshare(CLONE_NEWUSER)', NR['unshare'], 0x10000000)
call('clone3', NR['clone3'], 0, 0)
t = threading.Thread(target=lambda: print('a thread ran'))
t.start()
t.join()
print(subprocess.run(['echo', 'a subprocess ran'], capture_output=True, text=True).stdout.strip())
`;

/** The nested-namespace escape: root in a new user namespace, then an uncapped tmpfs. */
const NESTED_MOUNT = `${PRELUDE}
u = subprocess.run(['unshare', '-U', '-r', '-m', 'sh', '-c', 'mount -t tmpfs -o size=1g none /scratch && echo mounted'], capture_output=True, text=True)
print('unshare -U:', u.returncode, (u.stdout + u.stderr).strip())
os.mkdir('m')
r = libc.mount(b'none', b'm', b'tmpfs', L(0), b'size=1g')
print('mount tmpfs:', 'mounted' if r == 0 else err())
`;

const FILL = `import errno, os
for d in ['.', '/dev/shm']:
    n = 0
    try:
        for i in range(64):
            with open(os.path.join(d, 'fill%d' % i), 'wb') as f:
                f.write(b'0' * (1 << 20))
            n += 1
        print(d, n, 'MiB, no limit')
    except OSError as e:
        print(d, n, 'MiB,', errno.errorcode[e.errno])
`;

const SYSV = [
  'import ctypes, errno, time',
  'libc = ctypes.CDLL(None, use_errno=True)',
  'libc.shmat.restype = ctypes.c_void_p',
  'class Sembuf(ctypes.Structure):',
  "    _fields_ = [('num', ctypes.c_ushort), ('op', ctypes.c_short), ('flg', ctypes.c_short)]",
  'IPC_CREAT, IPC_EXCL, IPC_NOWAIT, SETVAL = 0o1000, 0o2000, 0o4000, 16',
  `KEY = ${0x5ec000 + (process.pid % 4096)}`,
].join('\n');

const STORE_SECRET = (secret: string) => `${SYSV}
sid = libc.shmget(KEY, 4096, IPC_CREAT | 0o600)
p = libc.shmat(sid, None, 0)
ctypes.memmove(p, ${JSON.stringify(secret)}.encode(), ${secret.length})
libc.shmdt(ctypes.c_void_p(p))
q = libc.msgget(KEY, IPC_CREAT | 0o600)
print('stored', sid >= 0 and p not in (None, 2 ** 64 - 1), q >= 0)
`;

const LOOK_FOR_SECRET = `${SYSV}
print('shm by key:', 'found' if libc.shmget(KEY, 0, 0) >= 0 else errno.errorcode[ctypes.get_errno()])
print('msg by key:', 'found' if libc.msgget(KEY, 0) >= 0 else errno.errorcode[ctypes.get_errno()])
seen = b''
for row in open('/proc/sysvipc/shm').read().splitlines()[1:]:
    p = libc.shmat(int(row.split()[1]), None, 0o10000)
    if p not in (None, 2 ** 64 - 1):
        seen += ctypes.string_at(p, 64)
print('segments readable:', len(seen) // 64)
print(seen.split(b'\\0')[0].decode())
`;

const HOLD_SEMAPHORE = `${SYSV}
sid = libc.semget(KEY, 1, IPC_CREAT | 0o600)
libc.semctl(sid, 0, SETVAL, ctypes.c_int(1))
libc.semop(sid, ctypes.byref(Sembuf(0, -1, 0)), 1)
print('holding', flush=True)
time.sleep(60)
`;

// The usual lock: whoever creates the semaphore sets it free, everyone takes it.
const TAKE_SEMAPHORE = `${SYSV}
sid = libc.semget(KEY, 1, IPC_CREAT | IPC_EXCL | 0o600)
if sid >= 0:
    libc.semctl(sid, 0, SETVAL, ctypes.c_int(1))
else:
    sid = libc.semget(KEY, 1, 0)
ok = libc.semop(sid, ctypes.byref(Sembuf(0, -1, IPC_NOWAIT)), 1) == 0
print('acquired' if ok else 'blocked: ' + errno.errorcode[ctypes.get_errno()])
`;

const knownArch = ['x64', 'arm64'].includes(process.arch);

for (const v of isolationVariants()) {
  describe(`python sandbox vs programs that attack their worker and the kernel: ${v.label}`, function () {
    this.timeout(30_000);
    let tool: PythonTool;

    before(async function () {
      if (!knownArch) this.skip();
      tool = await makeTool({
        isolation: v.isolation,
        userNamespace: v.userNamespace,
        timeoutSeconds: 4,
        cpuSeconds: 4,
        scratchMb: 8,
        maxFileSizeMb: 16,
      });
    });
    after(async () => {
      await tool?.dispose();
    });

    /** The same worker answers the next call, with its own output. */
    async function sameWorkerServes(pid: number | undefined): Promise<void> {
      const r = await tool.conductAction('next', 'print(6 * 7)');
      expect(r.observation).to.equal('42');
      expect(tool.sandbox.pids[0]).to.equal(pid);
    }

    it("the worker's pipes cannot be taken: no forged reply for this call or the next", async () => {
      expect(
        tool.sandbox.info.missing.filter((m) => /seccomp|dumpable/.test(m)),
        'guards the workers could not install',
      ).to.deep.equal([]);
      const pid = tool.sandbox.pids[0];
      const r = await tool.conductAction('t', STEAL_CHANNELS);
      expect(r.observation).to.not.include('FORGED');
      expect(r.observation).to.match(/^stolen: 0 writers, 0 readers; pidfd_open\(\d+\) EPERM/);
      await sameWorkerServes(pid);
    });

    it('ptrace, process_vm_readv, pidfd_getfd and new user namespaces are refused; threads and subprocesses still work', async () => {
      const pid = tool.sandbox.pids[0];
      const r = await tool.conductAction('t', SYSCALLS);
      expect(r.observation).to.equal(
        [
          'ptrace(PTRACE_ATTACH, worker) EPERM',
          'process_vm_readv(worker) EPERM',
          'pidfd_open(worker) EPERM',
          'pidfd_getfd(worker, 0) EPERM',
          'clone(CLONE_NEWUSER) EPERM',
          'unshare(CLONE_NEWUSER) EPERM',
          'clone3 ENOSYS',
          'a thread ran',
          'a subprocess ran',
        ].join('\n'),
      );
      await sameWorkerServes(pid);
    });

    it('no nested user namespace, so no tmpfs mount past the caps', async () => {
      const r = await tool.conductAction('t', NESTED_MOUNT);
      const lines = r.observation.split('\n');
      if (existsSync('/usr/bin/unshare'))
        expect(lines[0]).to.equal('unshare -U: 1 unshare: unshare failed: Operation not permitted');
      expect(lines[1]).to.equal('mount tmpfs: EPERM');
      expect((await tool.conductAction('next', 'print(6 * 7)')).observation).to.equal('42');
    });

    if (!v.isolated) return;

    it('the scratch dir and /dev/shm are capped at scratchMb: writing past it is ENOSPC, and the space comes back', async () => {
      for (let i = 0; i < 2; i++) {
        const r = await tool.conductAction('t', FILL);
        const m = /^\. (\d+) MiB, ENOSPC\n\/dev\/shm (\d+) MiB, ENOSPC$/.exec(r.observation);
        expect(m, r.observation).to.not.equal(null);
        for (const n of [Number(m![1]), Number(m![2])]) expect(n).to.be.within(6, 8);
      }
    });

    it('SysV shared memory and message queues of one program are gone for the next', async () => {
      const secret = `sysv-secret-${process.pid}`;
      expect((await tool.conductAction('a', STORE_SECRET(secret))).observation).to.equal('stored True True');
      const b = await tool.conductAction('b', LOOK_FOR_SECRET);
      expect(b.observation).to.not.include(secret);
      expect(b.observation).to.equal('shm by key: ENOENT\nmsg by key: ENOENT\nsegments readable: 0');
    });

    it('a semaphore held by a program killed at its timeout does not block the next', async () => {
      const a = await tool.conductAction('a', HOLD_SEMAPHORE);
      expect(a.info?.status).to.equal('timeout');
      expect(a.observation).to.match(/^holding\n/);
      expect((await tool.conductAction('b', TAKE_SEMAPHORE)).observation).to.equal('acquired');
    });
  });
}

describe('python sandbox: bubblewrap itself refuses nested user namespaces', () => {
  it("a program started by bwrap with the worker's arguments, without the seccomp filter, cannot unshare -U", function () {
    const choice = chooseIsolation('bwrap', 'auto');
    if (choice.mode !== 'bwrap-userns' || !choice.features.disableUserns || !existsSync('/usr/bin/unshare'))
      this.skip();
    const asRoot = process.getuid?.() === 0;
    const interp = findInterpreter('auto', [], asRoot ? { uid: SANDBOX_UID, gid: SANDBOX_UID } : {});
    const run = (extra: string[]) =>
      spawnSync('bwrap', [...bwrapArgs('bwrap-userns', choice.features, interp, 1 << 20), ...extra], {
        encoding: 'utf8',
        cwd: '/',
        env: { PATH: '/usr/bin:/bin' },
        ...(asRoot ? { uid: SANDBOX_UID, gid: SANDBOX_UID } : {}),
      });
    expect(run(['true']).status).to.equal(0);
    const r = run(['unshare', '-U', '-r', 'id', '-u']);
    expect(r.stdout).to.not.include('0');
    expect(r.status).to.not.equal(0);
    expect(r.stderr).to.match(/unshare failed/);
  });
});
