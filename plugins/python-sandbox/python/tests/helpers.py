# Shared by the tests: the package's sources as the TypeScript side hands them to bootstrap.py.
import os

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE_DIR = os.path.join(PYTHON_DIR, 'agent0_sandbox')


def source(name):
    with open(os.path.join(PACKAGE_DIR, name + '.py')) as f:
        return f.read()


def modules(names):
    out = {'agent0_sandbox': source('__init__')}
    for n in names:
        out['agent0_sandbox.' + n] = source(n)
    return out


def on_stdin(blob):
    # The framing python-sources.ts uses: a 12-digit length, then the JSON.
    data = blob.encode('utf-8')
    return ('%012d' % len(data)).encode('ascii') + data
