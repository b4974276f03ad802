# The Python side of the wasm worker: runs inside CPython-in-WebAssembly (pyodide), in a locked-down vm
# context of the Node child (wasm-child-source.ts).
#
# setup() runs once per child, in the interpreter the memory snapshot is made from (trusted code only:
# the preload imports and the warm-up). Every program then runs in an interpreter restored from that
# snapshot and used by nothing else: arm() prepares it, run() runs the program, and the interpreter is
# dropped afterwards (a stateful session keeps one for all its cells, until it ends).
import builtins, json, os, random, sys

from agent0_sandbox.run_program import run_program

# The JS bridge stays out of programs' way: the modules that reach JS are unloaded and re-imports of
# them refused (a guard, not the boundary: the vm context around the interpreter holds no host API).
BRIDGE = ('js', 'pyodide_js', '_pyodide_core', 'pyodide', '_pyodide', 'pyodide_http', 'micropip', 'ctypes', '_ctypes')
GUARDED = [False]
HELLO = [None]
GLOBALS = {}
WORKDIR = '/scratch/program'


def bridge(name):
    return name in BRIDGE or name.split('.')[0] in BRIDGE


def guard(event, args):
    if GUARDED[0] and event == 'import' and args and isinstance(args[0], str) and bridge(args[0]):
        raise ImportError('module %r is not available in the sandbox' % args[0])


def setup(cfg_json):
    cfg = json.loads(cfg_json)
    imported = []
    for m in cfg.get('preload', []):
        try:
            __import__(m)
            imported.append(m)
        except Exception:
            pass
    if cfg.get('warmup'):
        try:
            exec(compile(cfg['warmup'], '<warmup>', 'exec'), {'__name__': '__warmup__'})
        except BaseException:
            pass
    sys.addaudithook(guard)
    HELLO[0] = json.dumps({'imports': imported, 'python': sys.version.split()[0]})
    return HELLO[0]


def arm(workdir=WORKDIR):
    # A fresh interpreter restored from the snapshot: pyodide re-imported its bridge modules while it
    # started, and every interpreter restored from one snapshot holds the same random state.
    for name in list(sys.modules):
        if bridge(name):
            del sys.modules[name]
    random.seed()
    os.makedirs(workdir, exist_ok=True)
    os.chdir(workdir)
    os.environ['HOME'] = workdir
    os.environ['TMPDIR'] = workdir
    GLOBALS.clear()
    GLOBALS.update({'__name__': '__main__', '__builtins__': builtins})
    return HELLO[0]


def run(code):
    GUARDED[0] = True
    try:
        rc = run_program(code, GLOBALS)
    finally:
        GUARDED[0] = False
    return rc
