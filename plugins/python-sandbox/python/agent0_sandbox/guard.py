# What keeps programs from reaching their own worker. Programs share the worker's uid, so without this
# the kernel's same-user rules (ptrace, process_vm_readv, pidfd_getfd, /proc/<pid>/fd and
# /proc/<pid>/mem) hand them its protocol pipes.
import ctypes, errno, os, struct

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long

def make_undumpable():
    # A non-dumpable process may be traced, and its fds and memory read through /proc, only with
    # CAP_SYS_PTRACE, which no program has; forks inherit the flag, so sessions are covered too.
    try:
        return LIBC.prctl(4, ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0  # PR_SET_DUMPABLE
    except Exception:
        return False

# machine -> (AUDIT_ARCH, seccomp, clone, clone3, first x32 number or 0, syscalls answered EPERM):
# ptrace, process_vm_readv/writev, process_madvise, pidfd_open, pidfd_getfd (reaching other processes);
# keyctl, add_key, request_key, bpf, userfaultfd, perf_event_open, io_uring_* (kernel attack surface);
# unshare, setns, mount, umount2 and the new mount API (nested namespaces, uncapped tmpfs);
# memfd_create, memfd_secret (memory no per-process limit or scratch cap counts) and mq_open (POSIX
# message queues outlive their program, and the worker cannot list them to clean up).
SECCOMP_TABLES = {
    'x86_64': (0xC000003E, 317, 56, 435, 0x40000000,
               [101, 310, 311, 440, 434, 438, 250, 248, 249, 321, 323, 298, 425, 426, 427,
                272, 308, 165, 166, 428, 429, 430, 431, 432, 433, 442, 319, 447, 240]),
    'aarch64': (0xC00000B7, 277, 220, 435, 0,
                [117, 270, 271, 440, 434, 438, 219, 217, 218, 280, 282, 241, 425, 426, 427,
                 97, 268, 40, 39, 428, 429, 430, 431, 432, 433, 442, 279, 447, 180]),
}
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME.
CLONE_NS_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080

def seccomp_program(table):
    audit, _, clone, clone3, x32, denied = table
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, fail = 0x7fff0000, 0x00050000
    ins = lambda code, jt, jf, k: struct.pack('HBBI', code, jt, jf, k)
    # seccomp_data: nr at 0, arch at 4, args[0] at 16 (its low half on little-endian machines).
    # Another ABI (int 0x80, x32) would reach the same kernel code under other numbers: refused whole.
    p = [ins(ld, 0, 0, 4), ins(jeq, 1, 0, audit), ins(ret, 0, 0, fail | errno.ENOSYS), ins(ld, 0, 0, 0)]
    if x32:
        p += [ins(jge, 0, 1, x32), ins(ret, 0, 0, fail | errno.ENOSYS)]
    for nr in denied:
        p += [ins(jeq, 0, 1, nr), ins(ret, 0, 0, fail | errno.EPERM)]
    # clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc fall back to clone.
    p += [ins(jeq, 0, 1, clone3), ins(ret, 0, 0, fail | errno.ENOSYS)]
    p += [ins(jeq, 0, 3, clone), ins(ld, 0, 0, 16), ins(jset, 0, 1, CLONE_NS_FLAGS), ins(ret, 0, 0, fail | errno.EPERM)]
    p.append(ins(ret, 0, 0, allow))
    return b''.join(p)

def install_seccomp():
    # Returns None once the filter is in place (for this process and all it forks), else why not.
    try:
        return _install_seccomp()
    except Exception as e:
        return '%s: %s' % (type(e).__name__, e)

def _install_seccomp():
    table = SECCOMP_TABLES.get(os.uname().machine)
    if table is None:
        return 'no syscall table for %s' % os.uname().machine
    code = seccomp_program(table)
    buf = ctypes.create_string_buffer(code, len(code))
    class Fprog(ctypes.Structure):
        _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]
    prog = Fprog(len(code) // 8, ctypes.addressof(buf))
    if LIBC.prctl(38, ctypes.c_ulong(1), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:  # PR_SET_NO_NEW_PRIVS
        return 'PR_SET_NO_NEW_PRIVS: ' + os.strerror(ctypes.get_errno())
    # SECCOMP_SET_MODE_FILTER with SECCOMP_FILTER_FLAG_TSYNC: threads a module started get it too.
    if LIBC.syscall(ctypes.c_long(table[1]), ctypes.c_long(1), ctypes.c_long(1), ctypes.byref(prog)) != 0:
        return 'seccomp: ' + os.strerror(ctypes.get_errno())
    return None

def clean_sysv_ipc():
    # SysV objects outlive their creator: a segment holding a secret, or a semaphore a killed program
    # held, would reach the next program. Only for a private IPC namespace (bubblewrap): the host's
    # holds other processes' objects. Returns how many were removed.
    removed = 0
    for kind, rm in (('shm', lambda i: LIBC.shmctl(i, 0, None)), ('sem', lambda i: LIBC.semctl(i, 0, 0)),
                     ('msg', lambda i: LIBC.msgctl(i, 0, None))):  # IPC_RMID
        try:
            with open('/proc/sysvipc/' + kind) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            try:
                removed += rm(int(row.split()[1])) == 0
            except (ValueError, IndexError):
                pass
    return removed
