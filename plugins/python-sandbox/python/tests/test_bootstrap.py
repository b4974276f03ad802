import json
import os
import subprocess
import sys
import unittest

from agent0_sandbox import bootstrap
from tests.helpers import on_stdin, source

PACKAGE = {
    'pkg': 'NAME = "pkg"',
    'pkg.b': 'def twice(x):\n    return 2 * x',
    'pkg.a': 'from pkg.b import twice\nVALUE = twice(21)',
    'pkg.main': ('import os, sys\nfrom pkg.a import VALUE\n'
                 'def main():\n'
                 '    rest = os.read(0, 100)\n'
                 '    print(VALUE, sys.argv[1:], rest.decode(), sorted(k for k in vars(sys.modules["__main__"]) if not k.startswith("__")),\n'
                 '          [k for k in sys.modules if k.startswith("pkg")])\n'),
}


class LoadTest(unittest.TestCase):
    def tearDown(self):
        for k in [k for k in sys.modules if k == 'pkg' or k.startswith('pkg.')]:
            del sys.modules[k]

    def test_builds_a_package_whose_modules_import_each_other(self):
        bootstrap.load({k: v for k, v in PACKAGE.items() if k != 'pkg.main'})
        import pkg.a
        self.assertEqual(pkg.a.VALUE, 42)
        self.assertIs(sys.modules['pkg'].b, sys.modules['pkg.b'])

    def test_read_exactly_leaves_the_rest_in_the_pipe(self):
        r, w = os.pipe()
        os.write(w, b'0123456789abc')
        os.close(w)
        self.assertEqual(bootstrap.read_exactly(r, 4), b'0123')
        self.assertEqual(os.read(r, 100), b'456789abc')
        os.close(r)


class AsWorkerTest(unittest.TestCase):
    def test_run_with_c_reads_the_sources_from_stdin_and_leaves_the_requests(self):
        stdin = on_stdin(json.dumps({'modules': PACKAGE, 'main': 'pkg.main'})) + b'first request\n'
        r = subprocess.run([sys.executable, '-I', '-c', source('bootstrap'), '{"cfg": 1}'], input=stdin,
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        # The worker's module sees the package; __main__ keeps only sys and main, sys.modules none of it.
        self.assertEqual(r.stdout.decode(), "42 ['{\"cfg\": 1}'] first request\n ['_main', 'sys'] []\n")

    def test_a_short_stdin_is_an_error(self):
        r = subprocess.run([sys.executable, '-I', '-c', source('bootstrap')], input=b'000000000100{"mod',
                           capture_output=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(b'stdin ended before the sources', r.stderr)


if __name__ == '__main__':
    unittest.main()
