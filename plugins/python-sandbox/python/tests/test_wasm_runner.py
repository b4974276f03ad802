import subprocess
import sys
import tempfile
import textwrap
import unittest

from tests.helpers import PYTHON_DIR


def in_subprocess(code):
    # setup() installs an audit hook, which nothing removes: each check runs in a fresh interpreter.
    r = subprocess.run([sys.executable, '-I', '-B', '-c', 'import sys; sys.path.insert(0, %r)\n' % PYTHON_DIR + textwrap.dedent(code)],
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(r.stderr.decode())
    return r.stdout.decode()


class WasmRunnerTest(unittest.TestCase):
    def test_setup_arm_and_run(self):
        with tempfile.TemporaryDirectory() as d:
            out = in_subprocess('''
                import json, os
                from agent0_sandbox import wasm_runner as w
                hello = json.loads(w.setup(json.dumps({'preload': ['fractions', 'no_such_module_agent0'], 'warmup': 'import decimal'})))
                print(hello['imports'], hello['python'] == sys.version.split()[0])
                print(w.arm(%r) == w.HELLO[0], os.getcwd() == %r, os.environ['HOME'] == %r)
                print(w.run('n = 5\\nprint(n)'), w.run('print(n * 2)'), w.run('import sys\\nsys.exit(3)'))
                print(w.run('import ctypes'), w.GUARDED[0], 'ctypes' in sys.modules)
                w.arm(%r)
                print(w.run('print("n" in globals(), type(__builtins__).__name__)'))
            ''' % (d, d, d, d))
        lines = out.splitlines()
        self.assertEqual(lines[0], "['fractions'] True")
        self.assertEqual(lines[1], 'True True True')
        self.assertEqual(lines[2:4], ['5', '10'])
        self.assertEqual(lines[4], '0 0 3')
        # The bridge modules (ctypes among them) are refused while a program runs, and only then.
        self.assertEqual(lines[5], '1 False False')
        self.assertEqual(lines[6:], ['False module', '0'])

    def test_the_guard_refuses_bridge_imports_only_while_a_program_runs(self):
        out = in_subprocess('''
            import json
            from agent0_sandbox import wasm_runner as w
            w.setup(json.dumps({}))
            print(w.bridge('pyodide.code'), w.bridge('js'), w.bridge('json'), w.bridge('pyodide_x'))
            w.GUARDED[0] = True
            try:
                import _ctypes
                print('imported')
            except ImportError as e:
                print(e)
            w.GUARDED[0] = False
            import _ctypes
            print('imported after')
        ''')
        self.assertEqual(out.splitlines(), ['True True False False', "module '_ctypes' is not available in the sandbox", 'imported after'])


if __name__ == '__main__':
    unittest.main()
