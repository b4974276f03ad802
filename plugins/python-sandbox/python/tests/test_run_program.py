import io
import unittest
from contextlib import redirect_stderr, redirect_stdout

from agent0_sandbox.run_program import run_program


def run(code):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = run_program(code, {'__name__': '__main__'})
    return rc, out.getvalue(), err.getvalue()


class RunProgramTest(unittest.TestCase):
    def test_exit_codes_as_a_script_would_have_them(self):
        self.assertEqual(run('print(6 * 7)'), (0, '42\n', ''))
        self.assertEqual(run('import sys\nsys.exit()')[0], 0)
        self.assertEqual(run('import sys\nsys.exit(3)')[0], 3)
        self.assertEqual(run('import sys\nsys.exit(256 + 5)')[0], 5)
        self.assertEqual(run('import sys\nsys.exit(-1)')[0], 255)
        rc, _, err = run("import sys\nsys.exit('bad input')")
        self.assertEqual((rc, err), (1, 'bad input\n'))

    def test_the_traceback_starts_at_the_program(self):
        rc, out, err = run('print("before")\nx = 1\nraise ValueError("bad " + str(x))')
        self.assertEqual(rc, 1)
        self.assertEqual(out, 'before\n')
        self.assertEqual(err, 'Traceback (most recent call last):\n  File "<code>", line 3, in <module>\n'
                              'ValueError: bad 1\n')
        rc, _, err = run('def f(:\n    pass')
        self.assertEqual(rc, 1)
        self.assertIn('SyntaxError', err)
        self.assertNotIn('run_program', err)

    def test_globals_are_the_callers(self):
        glb = {'__name__': '__main__'}
        with redirect_stdout(io.StringIO()):
            run_program('n = 5', glb)
            run_program('n *= 2', glb)
        self.assertEqual(glb['n'], 10)

    def test_keyboard_interrupt_and_base_exceptions_are_program_errors(self):
        rc, _, err = run('raise KeyboardInterrupt')
        self.assertEqual(rc, 1)
        self.assertTrue(err.rstrip().endswith('KeyboardInterrupt'))


if __name__ == '__main__':
    unittest.main()
