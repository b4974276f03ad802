import builtins
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

from agent0_sandbox import worker
from tests.helpers import modules, on_stdin, source

LIMITS = {'timeout': 5, 'cpu': 5, 'mem': 0, 'nproc': 64, 'fsize': 1 << 20, 'nofile': 64, 'max_output': 10000, 'session_cpu': 30}


def status_of(child_code):
    # A real wait status: a child that runs child_code and ends.
    pid = os.fork()
    if pid == 0:
        try:
            exec(child_code)
        finally:
            os._exit(0)
    return os.waitpid(pid, 0)[1]


class HelpersTest(unittest.TestCase):
    def test_decode_status(self):
        self.assertEqual(worker.decode_status(status_of('os._exit(0)')), ('ok', 0, ''))
        self.assertEqual(worker.decode_status(status_of('os._exit(3)')), ('error', 3, ''))
        self.assertEqual(worker.decode_status(status_of('os.kill(os.getpid(), signal.SIGKILL)')), ('killed', -9, 'killed (SIGKILL)'))
        self.assertEqual(worker.decode_status(status_of('os.kill(os.getpid(), signal.SIGXCPU)')), ('killed', -signal.SIGXCPU, 'CPU time limit exceeded'))
        self.assertEqual(worker.decode_status(status_of('os.kill(os.getpid(), signal.SIGUSR1)')), ('killed', -signal.SIGUSR1, 'killed by signal %d' % signal.SIGUSR1))

    def test_finish_reply_caps_stdout_first_then_stderr(self):
        bufs = {1: bytearray(b'a' * 8), 2: bytearray(b'b' * 8)}
        rep = worker.finish_reply({'id': 7, 'max_output': 10}, 'ok', '', 0, bufs, 1, 2, 0.0)
        self.assertEqual((rep['stdout'], rep['stderr'], rep['truncated'], rep['id']), ('a' * 8, 'bb', True, 7))
        rep = worker.finish_reply({'id': 8, 'max_output': 16}, 'ok', '', 0, bufs, 1, 2, 0.0, {'x': 1})
        self.assertEqual((rep['stdout'], rep['stderr'], rep['truncated'], rep['x']), ('a' * 8, 'b' * 8, False, 1))

    def test_programs_get_the_builtins_module_as_a_script_does(self):
        g = worker.fresh_globals()
        self.assertIs(g['__builtins__'], builtins)
        self.assertEqual(g['__name__'], '__main__')


class WorkerProcessTest(unittest.TestCase):
    # The worker as the process modes start it (isolation none: no bubblewrap): python -I -c bootstrap.py
    # with its sources on stdin, then one request per line.
    def setUp(self):
        self.scratch = tempfile.mkdtemp(prefix='agent0-worker-test-')

    def tearDown(self):
        shutil.rmtree(self.scratch, ignore_errors=True)

    def serve(self, requests):
        cfg = json.dumps({'scratch': self.scratch, 'preload': ['math', 'no_such_module_agent0'], 'warmup': 'x = 1'})
        blob = json.dumps({'modules': modules(['guard', 'run_program', 'worker']), 'main': 'agent0_sandbox.worker'})
        stdin = on_stdin(blob) + b''.join(json.dumps(r).encode() + b'\n' for r in requests)
        p = subprocess.run([sys.executable, '-I', '-c', source('bootstrap'), cfg], input=stdin, capture_output=True,
                           timeout=120, cwd='/', env={'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8'})
        self.assertEqual(p.returncode, 0, p.stderr)
        return [json.loads(line) for line in p.stdout.decode().splitlines()]

    def test_hello_programs_sessions_and_limits(self):
        replies = self.serve([
            dict(LIMITS, op='run', id=1, code='import sys\nprint(6 * 7, type(__builtins__).__name__, sys.argv[0])'),
            dict(LIMITS, op='run', id=2, code='print(input()[::-1])', stdin='abc\n'),
            dict(LIMITS, op='run', id=3, code='raise SystemExit(4)'),
            dict(LIMITS, op='run', id=4, code='n = 5', session='s'),
            dict(LIMITS, op='run', id=5, code='print(n * 2)', session='s'),
            dict(LIMITS, op='end', id=6, session='s'),
            dict(LIMITS, op='run', id=7, code='while True:\n    pass', timeout=0.5),
            dict(LIMITS, op='run', id=8, code="print('y' * 20000)"),
            {'op': 'nope', 'id': 9},
        ])
        hello = replies[0]
        self.assertEqual(hello['imports'], ['math'])
        self.assertTrue(hello['ready'])
        self.assertTrue(hello['undumpable'])
        by_id = {r['id']: r for r in replies[1:]}
        self.assertEqual((by_id[1]['status'], by_id[1]['stdout']), ('ok', '42 module -c\n'))
        self.assertEqual(by_id[2]['stdout'], 'cba\n')
        self.assertEqual((by_id[3]['status'], by_id[3]['exit_code']), ('error', 4))
        self.assertTrue(by_id[4]['session_new'])
        self.assertEqual((by_id[5]['stdout'], by_id[5]['session_new']), ('10\n', False))
        self.assertEqual(by_id[6]['status'], 'ok')
        self.assertEqual((by_id[7]['status'], by_id[7]['exit_code']), ('timeout', -9))
        self.assertEqual((by_id[8]['status'], by_id[8]['truncated'], len(by_id[8]['stdout'])), ('killed', True, 10000))
        self.assertEqual(by_id[9], {'id': 9, 'status': 'sandbox_error', 'reason': 'unknown op'})
        # Each program's folder is gone once it ended; nothing is left in the scratch dir.
        self.assertEqual(os.listdir(self.scratch), [])


if __name__ == '__main__':
    unittest.main()
