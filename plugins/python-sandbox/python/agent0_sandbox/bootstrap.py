# Builds the agent0_sandbox package from sources it is handed, so nothing of the project needs to be
# mounted into a sandbox or readable by its user. The process worker runs this file with -c and reads
# the sources on stdin (a 12-digit length, then that many bytes of JSON: {"modules": {name: source},
# "main": name}); the WebAssembly runner calls load() itself.
import sys


def load(modules):
    # In the order given, a module after the package and the modules it imports; each is registered
    # before its code runs, so they import each other by their package names.
    for name in modules:
        m = type(sys)(name)
        if '.' not in name:
            m.__path__ = []
        sys.modules[name] = m
        if '.' in name:
            parent, _, child = name.rpartition('.')
            setattr(sys.modules[parent], child, m)
        exec(compile(modules[name], '<%s>' % name, 'exec'), m.__dict__)


def read_exactly(fd, n):
    # os.read, not sys.stdin: nothing past the sources may be buffered away from the worker's requests.
    import os
    out = b''
    while len(out) < n:
        chunk = os.read(fd, n - len(out))
        if not chunk:
            raise SystemExit('agent0 sandbox bootstrap: stdin ended before the sources')
        out += chunk
    return out


if __name__ == '__main__':
    import json
    _blob = json.loads(read_exactly(0, int(read_exactly(0, 12))))
    load(_blob['modules'])
    _main = sys.modules[_blob['main']].main
    # The worker's functions hold their modules' globals; programs forked from it find sys.modules as
    # a plain python -c would leave it.
    for _name in _blob['modules']:
        del sys.modules[_name]
    del _blob, _name, json, load, read_exactly
    _main()
