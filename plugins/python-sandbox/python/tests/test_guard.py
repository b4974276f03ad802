import errno
import struct
import unittest

from agent0_sandbox.guard import CLONE_NS_FLAGS, SECCOMP_TABLES, seccomp_program

ALLOW = 0x7fff0000
ERRNO = 0x00050000


def evaluate(prog, nr, arch, arg0=0):
    # A classic-BPF interpreter for the instructions the filter uses (ld abs, jeq, jge, jset, ret),
    # run over a seccomp_data: nr at 0, arch at 4, args[0] at 16.
    data = struct.pack('<iIQ', nr, arch, 0) + struct.pack('<Q', arg0)
    ins = [struct.unpack('HBBI', prog[i:i + 8]) for i in range(0, len(prog), 8)]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = ins[pc]
        if code == 0x20:
            acc = struct.unpack_from('<I', data, k)[0]
            pc += 1
        elif code in (0x15, 0x35, 0x45):
            hit = acc == k if code == 0x15 else acc >= k if code == 0x35 else (acc & k) != 0
            pc += 1 + (jt if hit else jf)
        elif code == 0x06:
            return k
        else:
            raise AssertionError('unexpected BPF instruction 0x%x' % code)


class SeccompProgramTest(unittest.TestCase):
    def test_x86_64(self):
        table = SECCOMP_TABLES['x86_64']
        prog = seccomp_program(table)
        arch = table[0]
        self.assertEqual(len(prog) % 8, 0)
        for nr, name in [(101, 'ptrace'), (310, 'process_vm_readv'), (438, 'pidfd_getfd'), (272, 'unshare'),
                         (165, 'mount'), (321, 'bpf'), (425, 'io_uring_setup'), (319, 'memfd_create'),
                         (447, 'memfd_secret'), (240, 'mq_open')]:
            self.assertEqual(evaluate(prog, nr, arch), ERRNO | errno.EPERM, name)
        for nr, name in [(0, 'read'), (1, 'write'), (57, 'fork'), (59, 'execve'), (231, 'exit_group')]:
            self.assertEqual(evaluate(prog, nr, arch), ALLOW, name)
        self.assertEqual(evaluate(prog, 435, arch), ERRNO | errno.ENOSYS, 'clone3')
        self.assertEqual(evaluate(prog, 56, arch, 0x01200011), ALLOW, 'clone of fork()')
        self.assertEqual(evaluate(prog, 56, arch, 0x10000000 | 0x11), ERRNO | errno.EPERM, 'clone(CLONE_NEWUSER)')
        self.assertEqual(evaluate(prog, 0x40000000 + 1, arch), ERRNO | errno.ENOSYS, 'x32 write')
        self.assertEqual(evaluate(prog, 1, 0x40000003), ERRNO | errno.ENOSYS, 'i386 ABI')

    def test_aarch64(self):
        table = SECCOMP_TABLES['aarch64']
        prog = seccomp_program(table)
        arch = table[0]
        self.assertEqual(evaluate(prog, 117, arch), ERRNO | errno.EPERM, 'ptrace')
        self.assertEqual(evaluate(prog, 63, arch), ALLOW, 'read')
        for nr, name in [(279, 'memfd_create'), (447, 'memfd_secret'), (180, 'mq_open')]:
            self.assertEqual(evaluate(prog, nr, arch), ERRNO | errno.EPERM, name)
        self.assertEqual(evaluate(prog, 220, arch, CLONE_NS_FLAGS & 0x20000000), ERRNO | errno.EPERM, 'clone(CLONE_NEWPID)')
        self.assertEqual(evaluate(prog, 220, arch, 0x11), ALLOW, 'clone')
        # No x32-like ABI on aarch64: a high number is just another syscall.
        self.assertEqual(evaluate(prog, 0x40000000 + 1, arch), ALLOW)

    def test_every_namespace_flag_is_refused_to_clone(self):
        table = SECCOMP_TABLES['x86_64']
        prog = seccomp_program(table)
        for flag in (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080):
            self.assertEqual(evaluate(prog, 56, table[0], flag), ERRNO | errno.EPERM, hex(flag))


if __name__ == '__main__':
    unittest.main()
