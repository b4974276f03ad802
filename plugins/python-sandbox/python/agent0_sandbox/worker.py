# agent0 python-sandbox warm worker: one request per line on stdin, one JSON reply per line on stdout.
# Imports are paid once here; every program runs in a fresh fork (stateless) or in a long-lived
# forked session (stateful), with rlimits, its own process group and a scratch dir. bootstrap.py
# builds this package from sources it reads on stdin and calls main().
import builtins, sys, os, json, time, signal, select, resource, socket, shutil, io

from agent0_sandbox.guard import clean_sysv_ipc, install_seccomp, make_undumpable
from agent0_sandbox.run_program import run_program

# Set by main() before any request is served.
PROTO = REQS = None
DEVNULL = -1
CFG = {}
SCRATCH = ''
SELF = 0
WAKE_R = WAKE_W = -1
sessions = {}  # session id -> {'pid', 'sock', 'dir'}, least recently used first
MEMORY_POLL_S = 0.01
exited = {}    # pid -> wait status, for children reaped while looking for another one

def reap():
    while True:
        try:
            pid, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        exited[pid] = st

def children_map():
    kids = {}
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name) as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(')') + 2:].split()[1])
        except Exception:
            continue
        kids.setdefault(ppid, []).append(int(name))
    return kids

def descendants(root=None):
    kids = children_map()
    out, todo = [], [SELF if root is None else root]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out

def rss_anon(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('RssAnon:'):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0

def sysv_shm_bytes():
    # Pages of SysV segments belong to no process once detached; in a private IPC namespace every
    # segment there is the running program's (the others were removed after their calls).
    if not CFG.get('private_ipc'):
        return 0
    total = 0
    try:
        with open('/proc/sysvipc/shm') as f:
            head = f.readline().split()
            col = head.index('rss')
            for row in f:
                total += int(row.split()[col])
    except (OSError, ValueError, IndexError):
        pass
    return total

def memory_of(root, base):
    # What a program holds beyond the warm image it was forked from (base: the worker's anonymous
    # memory): each of its processes' anonymous memory less that image, plus SysV shared memory.
    # Pages a fork shares with its parent count in both (a cautious over-count); a fork that rewrites
    # the inherited image holds up to base more than counted, so the program holds at most the
    # limit plus maxProcesses x base. memfd and POSIX message queues are refused by the seccomp
    # filter; files count against the scratch and /dev/shm tmpfs caps.
    pids = [root] + descendants(root)
    return sum(max(0, rss_anon(p) - base) for p in pids) + sysv_shm_bytes()

def sweep(keep):
    # Kills every descendant not in keep until none is left (a fork bomb is bounded by RLIMIT_NPROC).
    killed = 0
    for _ in range(500):
        reap()
        extra = [p for p in descendants() if p not in keep]
        if not extra:
            return killed
        for p in extra:
            try:
                os.kill(p, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        time.sleep(0.002)
    return killed

def clean_leftovers():
    # Files a program left anywhere writable (scratch root, private /dev/shm) and its SysV IPC objects
    # must not reach the next program, which may belong to another trajectory; only live sessions
    # keep their folders.
    if CFG.get('private_ipc'):
        clean_sysv_ipc()
    keep = {os.path.basename(s['dir']) for s in sessions.values()}
    for base in [SCRATCH] + (['/dev/shm'] if CFG.get('private_shm') else []):
        try:
            names = os.listdir(base)
        except OSError:
            continue
        for n in names:
            if base == SCRATCH and n in keep:
                continue
            p = os.path.join(base, n)
            try:
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    os.unlink(p)
            except OSError:
                pass

def live_session_pids():
    return {s['pid'] for s in sessions.values()}

def all_stopped(pid):
    # Every thread, not only the main one: a group stop reaches them one by one.
    try:
        tids = os.listdir('/proc/%d/task' % pid)
    except OSError:
        return True
    for tid in tids:
        try:
            with open('/proc/%d/task/%s/stat' % (pid, tid)) as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.rindex(')') + 2] not in 'TtZX':
            return False
    return True

def freeze_sessions(running=None):
    # A session's threads live on between its cells. While another trajectory's program runs they
    # could read its stdin or write into its subprocesses' pipes (same uid, and execve makes a
    # process dumpable again), so every other session is stopped: SIGSTOP cannot be caught, and
    # this runs before every call (not once after a session's cell), since the previous program
    # may have resumed one with SIGCONT.
    pids = {sid: s['pid'] for sid, s in sessions.items() if sid != running}
    for pid in pids.values():
        try:
            os.kill(pid, signal.SIGSTOP)
        except OSError:
            pass
    deadline = time.monotonic() + 1.0
    for sid, pid in pids.items():
        while not all_stopped(pid):
            if time.monotonic() > deadline:
                end_session(sid)
                break
            time.sleep(0.0005)

def apply_limits(req, nproc_extra):
    lim = [
        (resource.RLIMIT_CPU, req['cpu'], req['cpu'] + 1),
        (resource.RLIMIT_NPROC, req['nproc'] + nproc_extra, req['nproc'] + nproc_extra),
        (resource.RLIMIT_FSIZE, req['fsize'], req['fsize']),
        (resource.RLIMIT_NOFILE, req['nofile'], req['nofile']),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    if req['mem'] > 0:
        lim.append((resource.RLIMIT_AS, req['mem'], req['mem']))
    for which, soft, hard in lim:
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            # The hard limit was already lower (e.g. inherited): settle for it.
            cur = resource.getrlimit(which)[1]
            resource.setrlimit(which, (min(soft, cur), cur))



def die_with_worker():
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass

def child_setup(req, workdir, out_w, err_w, in_fd, nproc_extra):
    os.setsid()
    die_with_worker()
    signal.set_wakeup_fd(-1)
    for s in (signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(s, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.dup2(in_fd, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.closerange(3, 1 << 16)  # the protocol pipes and other sessions' sockets must stay out of reach
    os.chdir(workdir)
    os.environ['HOME'] = workdir
    os.environ['TMPDIR'] = workdir
    apply_limits(req, nproc_extra)
    sys.stdin = io.TextIOWrapper(io.FileIO(0, 'r', closefd=False))
    sys.stdout = io.TextIOWrapper(io.FileIO(1, 'w', closefd=False), line_buffering=False, write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, 'w', closefd=False), write_through=True)

def fresh_globals():
    # The builtins module itself, as a script's __main__ has it (a module's own __builtins__ is its dict).
    return {'__name__': '__main__', '__builtins__': builtins}

def stdin_fd(workdir, text):
    if not text:
        return DEVNULL
    p = os.path.join(workdir, '.stdin')
    with open(p, 'w') as f:
        f.write(text)
    fd = os.open(p, os.O_RDONLY)
    # Gone before the program starts: no later program of another trajectory finds it by name.
    os.unlink(p)
    return fd

def collect(req, pid, out_r, err_r, is_done, watch=()):
    # Reads both pipes under the wall-clock deadline and the output cap; returns (status, reason, out, err).
    deadline = time.monotonic() + req['timeout']
    cap = req['max_output']
    bufs = {out_r: bytearray(), err_r: bytearray()}
    open_fds = [out_r, err_r]
    status, reason = None, ''
    # RLIMIT_AS holds per process; what all the program's processes hold together is polled.
    mem = req['mem']
    base = rss_anon(SELF) if mem > 0 else 0
    next_poll = 0.0
    while True:
        if is_done():
            break
        now = time.monotonic()
        left = deadline - now
        if left <= 0:
            status, reason = 'timeout', 'wall-clock limit of %gs exceeded' % req['timeout']
            break
        if mem > 0 and now >= next_poll:
            held = memory_of(pid, base)
            # Every 10 ms, or less often where /proc is large (mode none sees the host's processes):
            # the scan takes at most a tenth of a core.
            after = time.monotonic()
            next_poll = after + max(MEMORY_POLL_S, 10 * (after - now))
            if held > mem:
                status = 'killed'
                reason = 'memory limit of %d MiB exceeded (%d MiB held by the program\'s processes together)' % (mem >> 20, held >> 20)
                break
        r, _, _ = select.select(open_fds + [WAKE_R] + list(watch), [], [], min(left, MEMORY_POLL_S if mem > 0 else 0.05))
        if WAKE_R in r:
            try:
                os.read(WAKE_R, 4096)
            except BlockingIOError:
                pass
        for fd in r:
            if fd == WAKE_R or fd in watch:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                open_fds.remove(fd)
            else:
                bufs[fd] += chunk
        if len(bufs[out_r]) + len(bufs[err_r]) > cap:
            status, reason = 'killed', 'output limit of %d bytes exceeded' % cap
            break
    return status, reason, bufs, open_fds

def drain(fds, bufs, cap):
    for fd in fds:
        try:
            while len(bufs[fd]) <= cap:
                r, _, _ = select.select([fd], [], [], 0)
                if not r:
                    break
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                bufs[fd] += chunk
        except OSError:
            pass

def decode_status(st):
    if os.WIFSIGNALED(st):
        sig = os.WTERMSIG(st)
        return 'killed', -sig, {signal.SIGXCPU: 'CPU time limit exceeded', signal.SIGKILL: 'killed (SIGKILL)',
                                signal.SIGXFSZ: 'file size limit exceeded', signal.SIGSEGV: 'segmentation fault'}.get(sig, 'killed by signal %d' % sig)
    code = os.WEXITSTATUS(st)
    return ('ok' if code == 0 else 'error'), code, ''

def forget_exits():
    # Reaped grandchildren (orphans of a fork bomb come back to us) need no record; live sessions do.
    keep = live_session_pids()
    for p in [p for p in exited if p not in keep]:
        del exited[p]

def finish_reply(req, status, reason, code, bufs, out_r, err_r, t0, extra=None):
    forget_exits()
    cap = req['max_output']
    out, err = bytes(bufs[out_r]), bytes(bufs[err_r])
    trunc = len(out) + len(err) > cap
    if trunc:
        out = out[:cap]
        err = err[:max(0, cap - len(out))]
    rep = {'id': req['id'], 'status': status, 'reason': reason, 'exit_code': code,
           'stdout': out.decode('utf-8', 'replace'), 'stderr': err.decode('utf-8', 'replace'),
           'truncated': trunc, 'wall_ms': (time.monotonic() - t0) * 1000.0}
    if extra:
        rep.update(extra)
    return rep

def run_stateless(req):
    t0 = time.monotonic()
    freeze_sessions()
    workdir = os.path.join(SCRATCH, 'c%d' % req['id'])
    os.mkdir(workdir, 0o700)
    in_fd = stdin_fd(workdir, req.get('stdin'))
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            child_setup(req, workdir, out_w, err_w, in_fd, len(live_session_pids()) + 2)
            code = run_program(req['code'], fresh_globals())
        except BaseException:
            code = 70
        os._exit(code)
    os.close(out_w)
    os.close(err_w)
    if in_fd != DEVNULL:
        os.close(in_fd)
    def done():
        reap()
        return pid in exited
    status, reason, bufs, open_fds = collect(req, pid, out_r, err_r, done)
    if status is not None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    leftovers = sweep(live_session_pids())
    drain(open_fds, bufs, req['max_output'])
    os.close(out_r)
    os.close(err_r)
    st = exited.pop(pid, None)
    if status is None:
        status, code, reason = decode_status(st if st is not None else 0)
    else:
        code = -9
    clean_leftovers()
    return finish_reply(req, status, reason, code, bufs, out_r, err_r, t0, {'leftover_killed': leftovers})

def session_main(sock, req, workdir, nproc_extra):
    # A long-lived child holding one trajectory's globals; each cell arrives with its own output pipes.
    glb = fresh_globals()
    os.setsid()
    die_with_worker()
    signal.set_wakeup_fd(-1)
    for s in (signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(s, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(workdir)
    os.environ['HOME'] = workdir
    os.environ['TMPDIR'] = workdir
    keep = sock.fileno()
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 16)
    null = os.open(os.devnull, os.O_RDWR)
    budget = req['session_cpu']
    apply_limits(dict(req, cpu=budget), nproc_extra)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(null, 2)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, 'w', closefd=False), write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, 'w', closefd=False), write_through=True)
    while True:
        msg, fds, _, _ = socket.recv_fds(sock, 1 << 20, 3)
        if not msg:
            os._exit(0)
        cell = json.loads(msg.decode())
        used = resource.getrusage(resource.RUSAGE_SELF)
        used = int(used.ru_utime + used.ru_stime) + 1
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        resource.setrlimit(resource.RLIMIT_CPU, (min(used + cell['cpu'], hard), hard))
        os.dup2(fds[0], 0)
        os.dup2(fds[1], 1)
        os.dup2(fds[2], 2)
        for fd in fds:
            os.close(fd)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, 'r', closefd=False))
        code = run_program(cell['code'], glb)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.dup2(null, 2)
        sock.sendall(json.dumps({'exit_code': code}).encode() + b'\n')

def start_session(req):
    sid = req['session']
    # Each session is a process holding its interpreter: past the cap the least recently used one
    # goes, and its next call starts afresh and is told its variables are gone.
    while len(sessions) >= max(1, req.get('max_sessions', 16)):
        end_session(next(iter(sessions)))
    workdir = os.path.join(SCRATCH, 's%d' % req['id'])
    os.mkdir(workdir, 0o700)
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        parent.close()
        try:
            session_main(child, req, workdir, len(live_session_pids()) + 3)
        except BaseException:
            pass
        os._exit(0)
    child.close()
    sessions[sid] = {'pid': pid, 'sock': parent, 'dir': workdir}
    return sessions[sid]

def end_session(sid, kill=True):
    s = sessions.pop(sid, None)
    if not s:
        return
    try:
        os.kill(s['pid'], signal.SIGKILL)
    except OSError:
        pass
    s['sock'].close()
    sweep(live_session_pids())
    exited.pop(s['pid'], None)
    clean_leftovers()

def run_stateful(req):
    t0 = time.monotonic()
    freeze_sessions(req['session'])
    s = sessions.pop(req['session'], None)
    fresh = s is None
    if fresh:
        s = start_session(req)
    else:
        sessions[req['session']] = s  # most recently used last
        try:
            os.kill(s['pid'], signal.SIGCONT)
        except OSError:
            pass
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_fd = stdin_fd(s['dir'], req.get('stdin'))
    try:
        socket.send_fds(s['sock'], [json.dumps({'code': req['code'], 'cpu': req['cpu']}).encode()], [in_fd, out_w, err_w])
    except OSError:
        pass
    os.close(out_w)
    os.close(err_w)
    if in_fd != DEVNULL:
        os.close(in_fd)
    reply = bytearray()
    sock_fd = s['sock'].fileno()
    def done():
        reap()
        if s['pid'] in exited:
            return True
        r, _, _ = select.select([sock_fd], [], [], 0)
        if r:
            chunk = s['sock'].recv(4096)
            if not chunk:
                return True
            reply.extend(chunk)
        return reply.endswith(b'\n')
    status, reason, bufs, open_fds = collect(req, s['pid'], out_r, err_r, done, [sock_fd])
    lost = False
    # How the session died must be read before end_session forgets its exit.
    died = exited.get(s['pid'], 0)
    if status is not None or not reply.endswith(b'\n'):
        lost = True
        end_session(req['session'])
    leftovers = sweep(live_session_pids())
    clean_leftovers()
    drain(open_fds, bufs, req['max_output'])
    os.close(out_r)
    os.close(err_r)
    if status is None:
        if reply.endswith(b'\n'):
            code = json.loads(reply.decode())['exit_code']
            status = 'ok' if code == 0 else 'error'
        else:
            status, code, reason = decode_status(died)
            if status == 'ok':
                status = 'error'
    else:
        code = -9
    return finish_reply(req, status, reason, code, bufs, out_r, err_r, t0,
                        {'leftover_killed': leftovers, 'session_new': fresh, 'session_lost': lost})


def main():
    global PROTO, REQS, DEVNULL, CFG, SCRATCH, SELF, WAKE_R, WAKE_W
    PROTO = os.fdopen(os.dup(1), 'w', buffering=1)
    REQS = os.fdopen(os.dup(0), 'r')
    DEVNULL = os.open(os.devnull, os.O_RDWR)
    os.dup2(DEVNULL, 0)
    os.dup2(2, 1)  # stray prints of imported modules go to the worker's stderr, never the protocol
    CFG = json.loads(sys.argv[1])
    SCRATCH = CFG['scratch']
    imported = []
    for mod in CFG.get('preload', []):
        try:
            __import__(mod)
            imported.append(mod)
        except Exception:
            pass
    if CFG.get('warmup'):
        # Lazy initialisation (sympy's polys and simplification machinery) paid once here is inherited by
        # every fork, instead of being paid again by each program.
        try:
            exec(compile(CFG['warmup'], '<warmup>', 'exec'), {'__name__': '__warmup__'})
        except BaseException:
            pass
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans come back to us
        subreaper = True
    except Exception:
        subreaper = False

    if CFG.get('drop_to') is not None and os.getuid() == 0:
        # bwrap ran without a user namespace (root): give up root before any model code exists.
        os.chown(SCRATCH, CFG['drop_to'], CFG['drop_to'])
        if CFG.get('private_shm'):
            os.chown('/dev/shm', CFG['drop_to'], CFG['drop_to'])  # multiprocessing's semaphores live there
        os.setgroups([])
        os.setgid(CFG['drop_to'])
        os.setuid(CFG['drop_to'])

    # Last, once nothing privileged is left to do: from here on every fork inherits both.
    undumpable = make_undumpable()
    seccomp_error = install_seccomp()
    # As pid 1 of its namespace the worker receives from programs only the signals it handles, and
    # Python handles SIGINT: ignored here, restored in each program.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    SELF = os.getpid()

    WAKE_R, WAKE_W = os.pipe()
    os.set_blocking(WAKE_R, False)
    os.set_blocking(WAKE_W, False)
    signal.set_wakeup_fd(WAKE_W)
    signal.signal(signal.SIGCHLD, lambda *a: None)

    PROTO.write(json.dumps({'ready': True, 'imports': imported, 'python': sys.version.split()[0],
                            'uid': os.getuid(), 'subreaper': subreaper, 'undumpable': undumpable,
                            'seccomp_error': seccomp_error}) + '\n')
    for line in REQS:
        if not line.strip():
            continue
        PROTO.write(json.dumps(serve(json.loads(line))) + '\n')

def serve(req):
    try:
        if req['op'] == 'run':
            return run_stateful(req) if req.get('session') else run_stateless(req)
        if req['op'] == 'end':
            end_session(req['session'])
            return {'id': req['id'], 'status': 'ok'}
        return {'id': req['id'], 'status': 'sandbox_error', 'reason': 'unknown op'}
    except Exception as e:
        return {'id': req['id'], 'status': 'sandbox_error', 'reason': '%s: %s' % (type(e).__name__, e)}
